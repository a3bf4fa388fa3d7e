// Get Attribute List — KMIP 1.4 spec §4.13.
import { isCustomName, standardAttributeTag, tagDefinedIn, versionKey } from '@keywarden/kmip';
import type { GetAttributeListResponse, UidPayload } from '@keywarden/kmip';
import { Handler, targetUid } from './context';

export const getAttributeList: Handler = async (ctx, p: UidPayload): Promise<GetAttributeListResponse> => {
  const r = await ctx.backend.getAttributeList({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
  const v = versionKey(ctx.version) ?? '1.0';
  const attributeNames = r.attributeNames.filter((n) => {
    if (isCustomName(n)) return true;
    const t = standardAttributeTag(n);
    return t !== undefined && tagDefinedIn(t.tag, v);
  });
  return { uniqueIdentifier: r.uniqueIdentifier, attributeNames };
};
