// Create — KMIP 1.4 §4.1; KMIP 2.1 §6.1.7.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { Attribute } from '../attributes';
import { StructBuilder } from '../struct';
import { isV2 } from '../version';
import { OperationCodec } from './codec';
import { decodeRequestAttributes, encodeRequestAttributes, reqUid } from './common';

export interface CreateRequest {
  objectType: number;
  attributes: Attribute[];
}

export interface CreateResponse {
  objectType: number;
  uniqueIdentifier: string;
  /** Attributes the server set implicitly (1.x Template-Attribute in the response). */
  attributes?: Attribute[];
}

export const create: OperationCodec<CreateRequest, CreateResponse> = {
  operation: Operation.Create,
  decodeRequest: (r, v) => ({ objectType: r.req(Tag.ObjectType, ItemType.Enumeration), attributes: decodeRequestAttributes(r, v) }),
  encodeRequest: (p, v) => new StructBuilder().enumeration(Tag.ObjectType, p.objectType).add(encodeRequestAttributes(p.attributes, v)).items,
  decodeResponse: (r, v) => {
    const attrs = isV2(v) ? [] : decodeRequestAttributes(r, v);
    return { objectType: r.req(Tag.ObjectType, ItemType.Enumeration), uniqueIdentifier: reqUid(r), attributes: attrs.length ? attrs : undefined };
  },
  encodeResponse: (p, v) => new StructBuilder()
    .enumeration(Tag.ObjectType, p.objectType)
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .add(p.attributes?.length && !isV2(v) ? encodeRequestAttributes(p.attributes, v) : undefined)
    .items,
};
