// Delete Attribute — KMIP 1.4 §4.16; in 2.x the instance to delete may be
// named by its value (Current Attribute, KMIP 2.1 §6.1.13) rather than by index.
import { deleteAttribute as codec } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoValue } from '../convert';
import { defineOperation, targetUid } from './context';

export const deleteAttribute = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const uid = targetUid(ctx, p.uniqueIdentifier);
    // A 2.x Current Attribute names the instance by value: key-lifecycle finds it inside the update (atomic).
    const r = await ctx.backend.deleteAttribute({
      caller: ctx.caller, uniqueIdentifier: uid, attributeName: p.attributeName, attributeIndex: p.attributeIndex ?? 0,
      currentValue: p.currentValue ? toProtoValue(p.currentValue) : undefined,
    });
    return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : undefined };
  },
});
