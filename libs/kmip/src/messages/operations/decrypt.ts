// Decrypt — KMIP 1.4 §4.30 (new in 1.2); KMIP 2.1 §6.1.14.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { CryptoRequestBase, decodeCryptoBase, encodeCryptoHead, encodeCryptoTail } from './crypto-common';
import { reqUid } from './common';

export interface DecryptRequest extends CryptoRequestBase {
  data?: Buffer;
  ivCounterNonce?: Buffer;
  /** 1.4+ (AEAD modes). */
  authenticatedEncryptionAdditionalData?: Buffer;
  authenticatedEncryptionTag?: Buffer;
}

export interface DecryptResponse {
  uniqueIdentifier: string;
  data?: Buffer;
  correlationValue?: Buffer;
}

export const decrypt: OperationCodec<DecryptRequest, DecryptResponse> = {
  operation: Operation.Decrypt,
  decodeRequest: (r) => ({
    ...decodeCryptoBase(r),
    data: r.opt(Tag.Data, ItemType.ByteString),
    ivCounterNonce: r.opt(Tag.IVCounterNonce, ItemType.ByteString),
    authenticatedEncryptionAdditionalData: r.opt(Tag.AuthenticatedEncryptionAdditionalData, ItemType.ByteString),
    authenticatedEncryptionTag: r.opt(Tag.AuthenticatedEncryptionTag, ItemType.ByteString),
  }),
  encodeRequest: (p) => {
    const b = encodeCryptoHead(new StructBuilder(), p).bytes(Tag.Data, p.data).bytes(Tag.IVCounterNonce, p.ivCounterNonce);
    return encodeCryptoTail(b, p)
      .bytes(Tag.AuthenticatedEncryptionAdditionalData, p.authenticatedEncryptionAdditionalData)
      .bytes(Tag.AuthenticatedEncryptionTag, p.authenticatedEncryptionTag)
      .items;
  },
  decodeResponse: (r) => ({
    uniqueIdentifier: reqUid(r),
    data: r.opt(Tag.Data, ItemType.ByteString),
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
  }),
  encodeResponse: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .bytes(Tag.Data, p.data)
    .bytes(Tag.CorrelationValue, p.correlationValue)
    .items,
};
