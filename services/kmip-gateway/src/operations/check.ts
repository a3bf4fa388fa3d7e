// Check — KMIP 1.4 spec §4.10: whether the object could be used as described.
import { CheckPayload } from '@keywarden/kmip';
import { Handler, targetUid } from './context';

export const check: Handler = async (ctx, p: CheckPayload): Promise<CheckPayload> => {
  const r = await ctx.backend.check({
    caller: ctx.caller,
    uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
    usageLimitsCount: p.usageLimitsCount ?? 0n,
    cryptographicUsageMask: p.cryptographicUsageMask ?? 0,
    leaseTime: p.leaseTime ?? 0,
  });
  return { uniqueIdentifier: r.uniqueIdentifier };
};
