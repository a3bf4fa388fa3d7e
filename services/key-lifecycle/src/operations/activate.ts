// KMIP 1.4 §4.19 Activate (errors: §11.20).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { activate as activateRecord } from '../model/state';
import { requireUid } from './common';

export async function activate(core: Core, c: OpContext, req: lifecycleV1.ActivateRequest): Promise<lifecycleV1.ActivateResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const ctx = await core.resolve(c, req.caller, uid);
  await core.mutate(ctx.tenant.id, uid, ctx.object, (r, now) => activateRecord(r, now));
  return { uniqueIdentifier: uid };
}
