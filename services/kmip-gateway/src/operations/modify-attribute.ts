// Modify Attribute — KMIP 1.4 spec §4.15; in 2.x the instance to change may be
// named by its value (Current Attribute) rather than by index.
import { AttributeRequest, AttributeResponse, CodecReason, KmipError } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoAttribute, toProtoValue } from '../convert';
import { Handler, targetUid } from './context';

export const modifyAttribute: Handler = async (ctx, p: AttributeRequest): Promise<AttributeResponse> => {
  const uid = targetUid(ctx, p.uniqueIdentifier);
  const attribute = toProtoAttribute(p.attribute);
  if (p.currentAttribute && p.currentAttribute.name !== p.attribute.name) {
    throw new KmipError(CodecReason.InvalidField, 'Current Attribute and New Attribute must be the same attribute');
  }
  // The instance named by its value is found by key-lifecycle inside the update (atomic).
  const currentValue = p.currentAttribute ? toProtoValue(p.currentAttribute.value) : undefined;
  const r = await ctx.backend.modifyAttribute({ caller: ctx.caller, uniqueIdentifier: uid, attribute, currentValue });
  return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : p.attribute };
};
