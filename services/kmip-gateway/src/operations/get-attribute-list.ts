// Get Attribute List — KMIP 1.4 §4.13.
import { attributeDefinedIn, getAttributeList as codec, versionKey } from '@keywarden/kmip';
import { defineOperation, targetUid } from './context';

export const getAttributeList = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    const r = await ctx.backend.getAttributeList({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier) });
    const v = versionKey(ctx.version) ?? '1.0';
    // Only attributes the client's version defines (custom ones always qualify).
    const attributeNames = r.attributeNames.filter((n) => attributeDefinedIn(n, v));
    return { uniqueIdentifier: r.uniqueIdentifier, attributeNames };
  },
});
