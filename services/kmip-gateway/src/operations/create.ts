// Create — KMIP 1.4 §4.1: a new symmetric key, generated and sealed under the
// tenant's root key by key-lifecycle, which also decides which object types
// and templates it accepts. Undone by destroying the new key.
import { create as codec } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { defineOperation } from './context';

export const create = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const r = await ctx.backend.create({ caller: ctx.caller, objectType: p.objectType, attributes: p.attributes.map(toProtoAttribute) });
    ctx.idPlaceholder = r.uniqueIdentifier;
    return { objectType: p.objectType, uniqueIdentifier: r.uniqueIdentifier };
  },
  async undo(ctx, _p, res) {
    await ctx.backend.destroy({ caller: ctx.caller, uniqueIdentifier: res.uniqueIdentifier });
  },
});
