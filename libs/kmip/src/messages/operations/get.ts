// Get — KMIP 1.4 §4.11; KMIP 2.1 §6.1.22.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import {
  KeyWrappingSpecification, ManagedObject, decodeKeyWrappingSpecification, decodeManagedObject, encodeKeyWrappingSpecification, encodeManagedObject,
} from '../objects';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { optUid, reqUid } from './common';

export interface GetRequest {
  uniqueIdentifier?: string;
  keyFormatType?: number;
  keyWrapType?: number;
  keyCompressionType?: number;
  /** The key returned wrapped by another key (KMIP 1.4 §2.1.6). */
  keyWrappingSpecification?: KeyWrappingSpecification;
}

export interface GetResponse {
  objectType: number;
  uniqueIdentifier: string;
  object: ManagedObject;
}

export const get: OperationCodec<GetRequest, GetResponse> = {
  operation: Operation.Get,
  decodeRequest: (r) => {
    const spec = r.node_(Tag.KeyWrappingSpecification);
    return {
      uniqueIdentifier: optUid(r),
      keyFormatType: r.opt(Tag.KeyFormatType, ItemType.Enumeration),
      keyWrapType: r.opt(Tag.KeyWrapType, ItemType.Enumeration),
      keyCompressionType: r.opt(Tag.KeyCompressionType, ItemType.Enumeration),
      keyWrappingSpecification: spec && decodeKeyWrappingSpecification(spec),
    };
  },
  encodeRequest: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .enumeration(Tag.KeyFormatType, p.keyFormatType)
    .enumeration(Tag.KeyWrapType, p.keyWrapType)
    .enumeration(Tag.KeyCompressionType, p.keyCompressionType)
    .add(p.keyWrappingSpecification && encodeKeyWrappingSpecification(p.keyWrappingSpecification))
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
