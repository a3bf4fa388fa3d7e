// Register — KMIP 1.4 §4.3; KMIP 2.1 §6.1.40.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { Attribute } from '../attributes';
import { ManagedObject, decodeManagedObject, encodeManagedObject } from '../objects';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { decodeRequestAttributes, encodeRequestAttributes, reqUid } from './common';

export interface RegisterRequest {
  objectType: number;
  attributes: Attribute[];
  object: ManagedObject;
}

export interface RegisterResponse {
  uniqueIdentifier: string;
}

export const register: OperationCodec<RegisterRequest, RegisterResponse> = {
  operation: Operation.Register,
  decodeRequest: (r, v) => {
    const objectType = r.req(Tag.ObjectType, ItemType.Enumeration);
    return { objectType, attributes: decodeRequestAttributes(r, v), object: decodeManagedObject(objectType, r) };
  },
  encodeRequest: (p, v) => new StructBuilder()
    .enumeration(Tag.ObjectType, p.objectType)
    .add(encodeRequestAttributes(p.attributes, v))
    .add(encodeManagedObject(p.object))
    .items,
  decodeResponse: (r) => ({ uniqueIdentifier: reqUid(r) }),
  encodeResponse: (p) => new StructBuilder().text(Tag.UniqueIdentifier, p.uniqueIdentifier).items,
};
