// KMIP 1.2 section 4.20 Revoke (errors: 11.21).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { revoke as revokeRecord } from '../model/state';
import { requireUid } from './common';

export async function revoke(core: Core, c: OpContext, req: lifecycleV1.RevokeRequest): Promise<lifecycleV1.RevokeResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  if (req.revocationReasonCode === 0) throw invalidField('a Revocation Reason Code is required');
  if (req.revocationMessage.length > 1024) throw invalidField('the Revocation Message is longer than 1024 characters');
  const ctx = await core.resolve(c, req.caller, uid);
  const occurred = Number(req.compromiseOccurrenceDate);
  await core.mutate(ctx.tenant.id, uid, ctx.object, (r, now) =>
    revokeRecord(r, req.revocationReasonCode, req.revocationMessage || undefined, occurred > 0 ? occurred : undefined, now));
  await core.invalidate(ctx.tenant.id, uid);
  return { uniqueIdentifier: uid };
}
