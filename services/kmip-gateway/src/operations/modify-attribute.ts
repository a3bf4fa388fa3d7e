// Modify Attribute — KMIP 1.4 §4.15; in 2.x the instance to change may be
// named by its value (Current Attribute, KMIP 2.1 §6.1.35) rather than by index.
import { KmipError, modifyAttribute as codec, ResultReason } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoAttribute, toProtoValue } from '../convert';
import { defineOperation, targetUid } from './context';

export const modifyAttribute = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const uid = targetUid(ctx, p.uniqueIdentifier);
    const attribute = toProtoAttribute(p.attribute);
    // Wire-level: the two structures of one request must name the same attribute.
    if (p.currentAttribute && p.currentAttribute.name !== p.attribute.name) {
      throw new KmipError(ResultReason.InvalidField, 'Current Attribute and New Attribute must be the same attribute');
    }
    // The instance named by its value is found by key-lifecycle inside the update (atomic).
    const currentValue = p.currentAttribute ? toProtoValue(p.currentAttribute.value) : undefined;
    const r = await ctx.backend.modifyAttribute({ caller: ctx.caller, uniqueIdentifier: uid, attribute, currentValue });
    return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : p.attribute };
  },
});
