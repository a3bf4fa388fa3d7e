// Destroy — KMIP 1.4 §4.21: the key material is destroyed (its sealed object
// removed from the root-key provider); the record stays as Destroyed.
import { destroy as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';

export const destroy = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const r = await ctx.backend.destroy({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
    return { uniqueIdentifier: r.uniqueIdentifier };
  },
});
