// Locate — KMIP 1.4 §4.9: matching uids of the caller's tenant, with
// Maximum Items, Offset Items and the Storage Status Mask (KMIP 2.0's
// values in every version: destroyed objects only with Destroyed Storage).
import { locate as codec } from '@keywarden/kmip';
import { toProtoAttribute } from '../convert';
import { defineOperation } from './context';

export const locate = defineOperation({
  codec,
  readOnly: true,
  async handle(ctx, p) {
    const r = await ctx.backend.locate({
      caller: ctx.caller,
      attributes: p.attributes.map(toProtoAttribute),
      maximumItems: p.maximumItems ?? 0,
      offsetItems: p.offsetItems ?? 0,
      storageStatusMask: p.storageStatusMask ?? 0,
    });
    if (r.uniqueIdentifiers.length) ctx.idPlaceholder = r.uniqueIdentifiers[0];
    return { locatedItems: r.locatedItems, uniqueIdentifiers: r.uniqueIdentifiers };
  },
});
