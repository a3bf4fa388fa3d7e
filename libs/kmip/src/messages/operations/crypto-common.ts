// Fields the cryptographic operations share (KMIP 1.4 §4.29-§4.35, new in
// 1.2; KMIP 2.1 §6.1): the key's Unique Identifier, Cryptographic
// Parameters, and the streaming fields (Correlation Value, Init and Final
// Indicator, 1.3+), which keywarden decodes to refuse them by name.
import { MessageFormatError } from '../../errors';
import { ItemType, TtlvNode } from '../../ttlv/types';
import { ResultReason, Tag } from '../../generated';
import { StructBuilder, StructReader } from '../struct';
import { optUid } from './common';

export interface CryptoRequestBase {
  uniqueIdentifier?: string;
  /** The Cryptographic Parameters structure, as given. */
  cryptographicParameters?: TtlvNode;
  correlationValue?: Buffer;
  initIndicator?: boolean;
  finalIndicator?: boolean;
}

export function decodeCryptoBase(r: StructReader): CryptoRequestBase {
  const params = r.node_(Tag.CryptographicParameters);
  if (params && params.type !== ItemType.Structure) throw new MessageFormatError('Cryptographic Parameters must be a Structure', ResultReason.InvalidField);
  return {
    uniqueIdentifier: optUid(r),
    cryptographicParameters: params,
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
    initIndicator: r.opt(Tag.InitIndicator, ItemType.Boolean),
    finalIndicator: r.opt(Tag.FinalIndicator, ItemType.Boolean),
  };
}

/** Unique Identifier and Cryptographic Parameters, which every one of these requests starts with. */
export function encodeCryptoHead(b: StructBuilder, p: CryptoRequestBase): StructBuilder {
  return b.text(Tag.UniqueIdentifier, p.uniqueIdentifier).add(p.cryptographicParameters && { ...p.cryptographicParameters, tag: Tag.CryptographicParameters } as TtlvNode);
}

/** The streaming fields, which come last in every one of these requests. */
export function encodeCryptoTail(b: StructBuilder, p: CryptoRequestBase): StructBuilder {
  return b.bytes(Tag.CorrelationValue, p.correlationValue).boolean(Tag.InitIndicator, p.initIndicator).boolean(Tag.FinalIndicator, p.finalIndicator);
}
