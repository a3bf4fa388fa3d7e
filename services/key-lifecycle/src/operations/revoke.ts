// KMIP 1.4 §4.20 Revoke (errors: §11.21).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import type { KeyRecord } from '../model/record';
import { revoke as revokeRecord } from '../model/state';
import type { Versioned } from '../store/store';
import { requireUid } from './common';

type Revocation = Pick<lifecycleV1.RevokeRequest, 'revocationReasonCode' | 'revocationMessage'> & { compromiseOccurrenceDate?: bigint };

export async function revoke(core: Core, c: OpContext, req: lifecycleV1.RevokeRequest): Promise<lifecycleV1.RevokeResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  checkRevocation(req);
  const ctx = await core.resolve(c, req.caller, uid);
  await revokeObject(core, ctx.tenant.id, uid, ctx.object, req);
  return { uniqueIdentifier: uid };
}

/** 11.21: a reason is required, and the message is bounded. */
export function checkRevocation(req: Revocation): void {
  if (req.revocationReasonCode === 0) throw invalidField('a Revocation Reason Code is required');
  if (req.revocationMessage.length > 1024) throw invalidField('the Revocation Message is longer than 1024 characters');
}

/**
 * Revokes one object of `tenant` (the state machine of 4.20) and drops its
 * cached plaintext on every replica: KMIP Revoke and the Admin API's
 * RevokeKey both end here.
 */
export async function revokeObject(core: Core, tenant: string, uid: string, obj: Versioned | undefined, req: Revocation): Promise<KeyRecord> {
  const occurred = Number(req.compromiseOccurrenceDate ?? 0n);
  const { rec } = await core.mutate(tenant, uid, obj, (r, now) =>
    revokeRecord(r, req.revocationReasonCode, req.revocationMessage || undefined, occurred > 0 ? occurred : undefined, now));
  await core.invalidate(tenant, uid);
  return rec;
}
