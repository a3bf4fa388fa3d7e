// Locate — KMIP 1.4 spec §4.9: matching uids of the caller's tenant, with
// Maximum Items and Offset Items.
import { LocateRequest, LocateResponse } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { Handler } from './context';

export const locate: Handler = async (ctx, p: LocateRequest): Promise<LocateResponse> => {
  const r = await ctx.backend.locate({
    caller: ctx.caller,
    attributes: p.attributes.map(toProtoAttribute),
    maximumItems: p.maximumItems ?? 0,
    offsetItems: p.offsetItems ?? 0,
  });
  if (r.uniqueIdentifiers.length) ctx.idPlaceholder = r.uniqueIdentifiers[0];
  return { locatedItems: r.locatedItems, uniqueIdentifiers: r.uniqueIdentifiers };
};
