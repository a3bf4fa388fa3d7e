// Encrypt — KMIP 1.4 §4.29 (new in 1.2); KMIP 2.1 §6.1.18.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { CryptoRequestBase, decodeCryptoBase, encodeCryptoHead, encodeCryptoTail } from './crypto-common';
import { reqUid } from './common';

export interface EncryptRequest extends CryptoRequestBase {
  data?: Buffer;
  ivCounterNonce?: Buffer;
  /** 1.4+ (AEAD modes). */
  authenticatedEncryptionAdditionalData?: Buffer;
}

export interface EncryptResponse {
  uniqueIdentifier: string;
  data?: Buffer;
  /** When the server generated it. */
  ivCounterNonce?: Buffer;
  correlationValue?: Buffer;
  /** 1.4+ (AEAD modes). */
  authenticatedEncryptionTag?: Buffer;
}

export const encrypt: OperationCodec<EncryptRequest, EncryptResponse> = {
  operation: Operation.Encrypt,
  decodeRequest: (r) => ({
    ...decodeCryptoBase(r),
    data: r.opt(Tag.Data, ItemType.ByteString),
    ivCounterNonce: r.opt(Tag.IVCounterNonce, ItemType.ByteString),
    authenticatedEncryptionAdditionalData: r.opt(Tag.AuthenticatedEncryptionAdditionalData, ItemType.ByteString),
  }),
  encodeRequest: (p) => {
    const b = encodeCryptoHead(new StructBuilder(), p).bytes(Tag.Data, p.data).bytes(Tag.IVCounterNonce, p.ivCounterNonce);
    return encodeCryptoTail(b, p).bytes(Tag.AuthenticatedEncryptionAdditionalData, p.authenticatedEncryptionAdditionalData).items;
  },
  decodeResponse: (r) => ({
    uniqueIdentifier: reqUid(r),
    data: r.opt(Tag.Data, ItemType.ByteString),
    ivCounterNonce: r.opt(Tag.IVCounterNonce, ItemType.ByteString),
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
    authenticatedEncryptionTag: r.opt(Tag.AuthenticatedEncryptionTag, ItemType.ByteString),
  }),
  encodeResponse: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .bytes(Tag.Data, p.data)
    .bytes(Tag.IVCounterNonce, p.ivCounterNonce)
    .bytes(Tag.CorrelationValue, p.correlationValue)
    .bytes(Tag.AuthenticatedEncryptionTag, p.authenticatedEncryptionTag)
    .items,
};
