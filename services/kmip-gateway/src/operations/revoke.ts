// Revoke — KMIP 1.4 §4.20: Deactivated, or Compromised for Key Compromise.
import { revoke as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';

export const revoke = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const r = await ctx.backend.revoke({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      revocationReasonCode: p.revocationReasonCode,
      revocationMessage: p.revocationMessage ?? '',
      compromiseOccurrenceDate: p.compromiseOccurrenceDate ?? 0n,
    });
    return { uniqueIdentifier: r.uniqueIdentifier };
  },
});
