// Locate — KMIP 1.4 §4.9; KMIP 2.1 §6.1.27.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { Attribute } from '../attributes';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { decodeInlineAttributes, encodeInlineAttributes } from './common';

export interface LocateRequest {
  maximumItems?: number;
  offsetItems?: number;
  storageStatusMask?: number;
  objectGroupMember?: number;
  attributes: Attribute[];
}

export interface LocateResponse {
  /** Total matches before Maximum Items / Offset Items (1.3+). */
  locatedItems?: number;
  uniqueIdentifiers: string[];
}

export const locate: OperationCodec<LocateRequest, LocateResponse> = {
  operation: Operation.Locate,
  decodeRequest: (r, v) => ({
    maximumItems: r.opt(Tag.MaximumItems, ItemType.Integer),
    offsetItems: r.opt(Tag.OffsetItems, ItemType.Integer),
    storageStatusMask: r.opt(Tag.StorageStatusMask, ItemType.Integer),
    objectGroupMember: r.opt(Tag.ObjectGroupMember, ItemType.Enumeration),
    attributes: decodeInlineAttributes(r, v),
  }),
  encodeRequest: (p, v) => [
    ...new StructBuilder()
      .integer(Tag.MaximumItems, p.maximumItems)
      .integer(Tag.OffsetItems, p.offsetItems)
      .integer(Tag.StorageStatusMask, p.storageStatusMask)
      .enumeration(Tag.ObjectGroupMember, p.objectGroupMember)
      .items,
    ...encodeInlineAttributes(p.attributes, v),
  ],
  decodeResponse: (r) => ({
    locatedItems: r.opt(Tag.LocatedItems, ItemType.Integer),
    uniqueIdentifiers: r.all(Tag.UniqueIdentifier, ItemType.TextString),
  }),
  encodeResponse: (p, v) => {
    const b = new StructBuilder();
    // Located Items first appears in 1.3.
    if (v.major > 1 || v.minor >= 3) b.integer(Tag.LocatedItems, p.locatedItems);
    for (const uid of p.uniqueIdentifiers) b.text(Tag.UniqueIdentifier, uid);
    return b.items;
  },
};
