// Check — KMIP 1.4 §4.10: whether the object could be used as described.
import { check as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';

export const check = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    const r = await ctx.backend.check({
      caller: ctx.caller,
      uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
      usageLimitsCount: p.usageLimitsCount ?? 0n,
      cryptographicUsageMask: p.cryptographicUsageMask ?? 0,
      leaseTime: p.leaseTime ?? 0,
    });
    return { uniqueIdentifier: r.uniqueIdentifier };
  },
});
