// Get — KMIP 1.4 §4.11; KMIP 2.1 §6.1.22.
import { ItemType, TtlvNode } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { ManagedObject, decodeManagedObject, encodeManagedObject } from '../objects';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { optUid, reqUid } from './common';

export interface GetRequest {
  uniqueIdentifier?: string;
  keyFormatType?: number;
  keyWrapType?: number;
  keyCompressionType?: number;
  /** Kept as given; keywarden answers Feature Not Supported when present. */
  keyWrappingSpecification?: TtlvNode;
}

export interface GetResponse {
  objectType: number;
  uniqueIdentifier: string;
  object: ManagedObject;
}

export const get: OperationCodec<GetRequest, GetResponse> = {
  operation: Operation.Get,
  decodeRequest: (r) => ({
    uniqueIdentifier: optUid(r),
    keyFormatType: r.opt(Tag.KeyFormatType, ItemType.Enumeration),
    keyWrapType: r.opt(Tag.KeyWrapType, ItemType.Enumeration),
    keyCompressionType: r.opt(Tag.KeyCompressionType, ItemType.Enumeration),
    keyWrappingSpecification: r.node_(Tag.KeyWrappingSpecification),
  }),
  encodeRequest: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .enumeration(Tag.KeyFormatType, p.keyFormatType)
    .enumeration(Tag.KeyWrapType, p.keyWrapType)
    .enumeration(Tag.KeyCompressionType, p.keyCompressionType)
    .add(p.keyWrappingSpecification)
    .items,
  decodeResponse: (r) => {
    const objectType = r.req(Tag.ObjectType, ItemType.Enumeration);
    return { objectType, uniqueIdentifier: reqUid(r), object: decodeManagedObject(objectType, r) };
  },
  encodeResponse: (p) => new StructBuilder()
    .enumeration(Tag.ObjectType, p.objectType)
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .add(encodeManagedObject(p.object))
    .items,
};
