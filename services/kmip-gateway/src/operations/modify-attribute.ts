// Modify Attribute — KMIP 1.4 spec §4.15.
import { AttributeRequest, AttributeResponse } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoAttribute } from '../convert';
import { Handler, targetUid } from './context';

export const modifyAttribute: Handler = async (ctx, p: AttributeRequest): Promise<AttributeResponse> => {
  const r = await ctx.backend.modifyAttribute({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier), attribute: toProtoAttribute(p.attribute) });
  return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : p.attribute };
};
