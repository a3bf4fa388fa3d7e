// Modify Attribute — KMIP 1.4 spec §4.15; in 2.x the instance to change may be
// named by its value (Current Attribute) rather than by index.
import { AttributeRequest, AttributeResponse, CodecReason, KmipError } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoAttribute } from '../convert';
import { Handler, targetUid } from './context';
import { instanceIndex } from './current-attribute';

export const modifyAttribute: Handler = async (ctx, p: AttributeRequest): Promise<AttributeResponse> => {
  const uid = targetUid(ctx, p.uniqueIdentifier);
  const attribute = toProtoAttribute(p.attribute);
  if (p.currentAttribute) {
    if (p.currentAttribute.name !== p.attribute.name) {
      throw new KmipError(CodecReason.InvalidField, 'Current Attribute and New Attribute must be the same attribute');
    }
    attribute.index = await instanceIndex(ctx, uid, p.currentAttribute.name, p.currentAttribute.value);
  }
  const r = await ctx.backend.modifyAttribute({ caller: ctx.caller, uniqueIdentifier: uid, attribute });
  return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : p.attribute };
};
