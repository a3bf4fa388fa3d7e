// Delete Attribute — KMIP 1.4 spec §4.16; in 2.x the instance to delete may be
// named by its value (Current Attribute) rather than by index.
import { AttributeResponse, DeleteAttributeRequest } from '@keywarden/kmip';
import { fromProtoAttribute } from '../convert';
import { Handler, targetUid } from './context';
import { instanceIndex } from './current-attribute';

export const deleteAttribute: Handler = async (ctx, p: DeleteAttributeRequest): Promise<AttributeResponse> => {
  const uid = targetUid(ctx, p.uniqueIdentifier);
  const attributeIndex = p.currentValue ? await instanceIndex(ctx, uid, p.attributeName, p.currentValue) : p.attributeIndex ?? 0;
  const r = await ctx.backend.deleteAttribute({ caller: ctx.caller, uniqueIdentifier: uid, attributeName: p.attributeName, attributeIndex });
  return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : undefined };
};
