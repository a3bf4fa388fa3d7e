// KMIP 1.2 section 4.21 Destroy (errors: 11.22). The record stays (state
// Destroyed, attributes kept for audit); the sealed object in the provider
// is removed, or retried by the sweeper when the provider is unreachable.
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { destroy as destroyRecord } from '../model/state';
import { requireUid } from './common';

export async function destroy(core: Core, c: OpContext, req: lifecycleV1.DestroyRequest): Promise<lifecycleV1.DestroyResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const ctx = await core.resolve(c, req.caller, uid);
  const { rec } = await core.mutate(ctx.tenant.id, uid, ctx.object, (r, now) => {
    destroyRecord(r, now);
    if (r.sealedRef) r.sealedDestroyPending = true;
  });
  await core.invalidate(ctx.tenant.id, uid);
  if (rec.sealedRef) await core.finishDestroy(ctx.tenant, uid, rec.sealedRef);
  return { uniqueIdentifier: uid };
}
