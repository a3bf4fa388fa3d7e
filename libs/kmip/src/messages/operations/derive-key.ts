// Derive Key — KMIP 1.4 §4.6; KMIP 2.1 §6.1.12. One or more base objects,
// a Derivation Method and its Derivation Parameters (§2.1.10 / Table 188).
import { MessageFormatError } from '../../errors';
import { ItemType, TtlvNode } from '../../ttlv/types';
import { Operation, ResultReason, Tag } from '../../generated';
import { Attribute } from '../attributes';
import { StructBuilder, StructReader } from '../struct';
import { isV2 } from '../version';
import { OperationCodec } from './codec';
import { decodeRequestAttributes, encodeRequestAttributes, reqUid } from './common';

export interface DerivationParameters {
  /** The Cryptographic Parameters structure, as given. */
  cryptographicParameters?: TtlvNode;
  initializationVector?: Buffer;
  derivationData?: Buffer;
  salt?: Buffer;
  iterationCount?: number;
}

export interface DeriveKeyRequest {
  objectType: number;
  /** The base objects; an ID Placeholder stands for one when none is given. */
  uniqueIdentifiers: string[];
  derivationMethod: number;
  derivationParameters: DerivationParameters;
  attributes: Attribute[];
}

export interface DeriveKeyResponse {
  uniqueIdentifier: string;
  /** 1.x: attributes the server set implicitly. */
  attributes?: Attribute[];
}

function decodeParameters(r: StructReader): DerivationParameters {
  const params = r.node_(Tag.CryptographicParameters);
  if (params && params.type !== ItemType.Structure) throw new MessageFormatError('Cryptographic Parameters must be a Structure', ResultReason.InvalidField);
  return {
    cryptographicParameters: params,
    initializationVector: r.opt(Tag.InitializationVector, ItemType.ByteString),
    derivationData: r.opt(Tag.DerivationData, ItemType.ByteString),
    salt: r.opt(Tag.Salt, ItemType.ByteString),
    iterationCount: r.opt(Tag.IterationCount, ItemType.Integer),
  };
}

function encodeParameters(p: DerivationParameters): TtlvNode {
  return new StructBuilder()
    .add(p.cryptographicParameters && { ...p.cryptographicParameters, tag: Tag.CryptographicParameters } as TtlvNode)
    .bytes(Tag.InitializationVector, p.initializationVector)
    .bytes(Tag.DerivationData, p.derivationData)
    .bytes(Tag.Salt, p.salt)
    .integer(Tag.IterationCount, p.iterationCount)
    .build(Tag.DerivationParameters);
}

export const deriveKey: OperationCodec<DeriveKeyRequest, DeriveKeyResponse> = {
  operation: Operation.DeriveKey,
  decodeRequest: (r, v) => ({
    objectType: r.req(Tag.ObjectType, ItemType.Enumeration),
    uniqueIdentifiers: r.all(Tag.UniqueIdentifier, ItemType.TextString),
    derivationMethod: r.req(Tag.DerivationMethod, ItemType.Enumeration),
    derivationParameters: decodeParameters(r.reqStruct(Tag.DerivationParameters)),
    attributes: decodeRequestAttributes(r, v),
  }),
  encodeRequest: (p, v) => {
    const b = new StructBuilder().enumeration(Tag.ObjectType, p.objectType);
    for (const u of p.uniqueIdentifiers ?? []) b.text(Tag.UniqueIdentifier, u);
    return b.enumeration(Tag.DerivationMethod, p.derivationMethod).add(encodeParameters(p.derivationParameters ?? {})).add(encodeRequestAttributes(p.attributes ?? [], v)).items;
  },
  decodeResponse: (r, v) => {
    const attrs = isV2(v) ? [] : decodeRequestAttributes(r, v);
    return { uniqueIdentifier: reqUid(r), attributes: attrs.length ? attrs : undefined };
  },
  encodeResponse: (p, v) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .add(p.attributes?.length && !isV2(v) ? encodeRequestAttributes(p.attributes, v) : undefined)
    .items,
};
