// Delete Attribute — KMIP 1.4 spec §4.16.
import { AttributeResponse, DeleteAttributeRequest } from '@keywarden/kmip';
import { fromProtoAttribute } from '../convert';
import { Handler, targetUid } from './context';

export const deleteAttribute: Handler = async (ctx, p: DeleteAttributeRequest): Promise<AttributeResponse> => {
  const r = await ctx.backend.deleteAttribute({
    caller: ctx.caller,
    uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier),
    attributeName: p.attributeName,
    attributeIndex: p.attributeIndex ?? 0,
  });
  return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : undefined };
};
