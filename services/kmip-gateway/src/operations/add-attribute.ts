// Add Attribute — KMIP 1.4 spec §4.14.
import { AttributeRequest, AttributeResponse } from '@keywarden/kmip';
import { fromProtoAttribute, toProtoAttribute } from '../convert';
import { Handler, targetUid } from './context';

export const addAttribute: Handler = async (ctx, p: AttributeRequest): Promise<AttributeResponse> => {
  const r = await ctx.backend.addAttribute({ caller: ctx.caller, uniqueIdentifier: targetUid(ctx, p.uniqueIdentifier), attribute: toProtoAttribute(p.attribute) });
  return { uniqueIdentifier: r.uniqueIdentifier, attribute: r.attribute ? fromProtoAttribute(r.attribute) : p.attribute };
};
