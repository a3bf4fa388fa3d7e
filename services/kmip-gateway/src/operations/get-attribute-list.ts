// Get Attribute List — KMIP 1.4 spec §4.13.
import { attributeDefinedIn, versionKey } from '@keywarden/kmip';
import type { GetAttributeListResponse, UidPayload } from '@keywarden/kmip';
import { Handler, targetUid } from './context';

export const getAttributeList: Handler = async (ctx, p: UidPayload): Promise<GetAttributeListResponse> => {
  const r = await ctx.backend.getAttributeList({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
  const v = versionKey(ctx.version) ?? '1.0';
  // Only attributes the client's version defines (custom ones always qualify).
  const attributeNames = r.attributeNames.filter((n) => attributeDefinedIn(n, v));
  return { uniqueIdentifier: r.uniqueIdentifier, attributeNames };
};
