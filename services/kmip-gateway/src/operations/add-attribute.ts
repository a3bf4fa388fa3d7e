// Add Attribute — KMIP 1.4 §4.14; undone by deleting the instance it added.
import { addAttribute as codec } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoAttribute } from '../convert';
import { defineOperation, targetUid } from './context';

export const addAttribute = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const r = await ctx.backend.addAttribute({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier), attribute: toProtoAttribute(p.attribute) });
    return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : p.attribute };
  },
  async undo(ctx, _p, res) {
    if (!res.attribute) return;
    await ctx.backend.deleteAttribute({
      caller: ctx.caller, uniqueIdentifier: res.uniqueIdentifier, attributeName: res.attribute.name, attributeIndex: res.attribute.index ?? 0, currentValue: undefined,
    });
  },
});
