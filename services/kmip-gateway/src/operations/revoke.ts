// Revoke — KMIP 1.4 spec §4.20: Deactivated, or Compromised for Key Compromise.
import { RevokeRequest, UidResponse } from '@keywarden/kmip';
import { Handler, targetUid } from './context';

export const revoke: Handler = async (ctx, p: RevokeRequest): Promise<UidResponse> => {
  const r = await ctx.backend.revoke({
    caller: ctx.caller,
    uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
    revocationReasonCode: p.revocationReasonCode,
    revocationMessage: p.revocationMessage ?? '',
    compromiseOccurrenceDate: p.compromiseOccurrenceDate ?? 0n,
  });
  return { uniqueIdentifier: r.uniqueIdentifier };
};
