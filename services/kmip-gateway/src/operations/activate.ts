// Activate — KMIP 1.4 §4.19: Pre-Active -> Active.
import { activate as codec } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';

export const activate = defineOperation({
  codec,
  readOnly: false,
  async handle(ctx, p) {
    const r = await ctx.backend.activate({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
    return { uniqueIdentifier: r.uniqueIdentifier };
  },
});
