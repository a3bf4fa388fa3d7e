// Get Attributes — KMIP 1.4 §4.12. An attribute the object does not have is
// simply absent from the answer (vCenter asks for x- attributes before it sets
// them and expects success with just the uid: docs/vcenter.md).
import { attributeDefinedIn, getAttributes as codec, versionKey } from '@keywarden/kmip';
import { fromProtoAttribute } from '../convert';
import { defineOperation, targetUid } from './context';

export const getAttributes = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    const r = await ctx.backend.getAttributes({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier), attributeNames: p.attributeNames });
    const v = versionKey(ctx.version) ?? '1.0';
    // Only attributes the client's version defines (custom ones always qualify).
    const attributes = r.attributes.map(fromProtoAttribute).filter((a) => attributeDefinedIn(a.name, v));
    return { uniqueIdentifier: r.uniqueIdentifier, attributes };
  },
});
