// Activate — KMIP 1.4 spec §4.19: Pre-Active -> Active.
import { UidPayload, UidResponse } from '@keywarden/kmip';
import { Handler, targetUid } from './context';

export const activate: Handler = async (ctx, p: UidPayload): Promise<UidResponse> => {
  const r = await ctx.backend.activate({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
  return { uniqueIdentifier: r.uniqueIdentifier };
};
