// Destroy — KMIP 1.4 spec §4.21: the key material is destroyed (its sealed
// object removed from the root-key provider); the record stays as Destroyed.
import { UidPayload, UidResponse } from '@keywarden/kmip';
import { Handler, targetUid } from './context';

export const destroy: Handler = async (ctx, p: UidPayload): Promise<UidResponse> => {
  const r = await ctx.backend.destroy({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
  return { uniqueIdentifier: r.uniqueIdentifier };
};
