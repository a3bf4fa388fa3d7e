// Signature Verify — KMIP 1.4 §4.32 (new in 1.2); KMIP 2.1 §6.1.46.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { CryptoRequestBase, decodeCryptoBase, encodeCryptoHead, encodeCryptoTail } from './crypto-common';
import { reqUid } from './common';

export interface SignatureVerifyRequest extends CryptoRequestBase {
  data?: Buffer;
  /** 1.4+. */
  digestedData?: Buffer;
  signatureData?: Buffer;
}

export interface SignatureVerifyResponse {
  uniqueIdentifier: string;
  validityIndicator: number;
  data?: Buffer;
  correlationValue?: Buffer;
}

export const signatureVerify: OperationCodec<SignatureVerifyRequest, SignatureVerifyResponse> = {
  operation: Operation.SignatureVerify,
  decodeRequest: (r) => ({
    ...decodeCryptoBase(r),
    data: r.opt(Tag.Data, ItemType.ByteString),
    digestedData: r.opt(Tag.DigestedData, ItemType.ByteString),
    signatureData: r.opt(Tag.SignatureData, ItemType.ByteString),
  }),
  encodeRequest: (p) => {
    const b = encodeCryptoHead(new StructBuilder(), p).bytes(Tag.Data, p.data).bytes(Tag.DigestedData, p.digestedData).bytes(Tag.SignatureData, p.signatureData);
    return encodeCryptoTail(b, p).items;
  },
  decodeResponse: (r) => ({
    uniqueIdentifier: reqUid(r),
    validityIndicator: r.req(Tag.ValidityIndicator, ItemType.Enumeration),
    data: r.opt(Tag.Data, ItemType.ByteString),
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
  }),
  encodeResponse: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .enumeration(Tag.ValidityIndicator, p.validityIndicator)
    .bytes(Tag.Data, p.data)
    .bytes(Tag.CorrelationValue, p.correlationValue)
    .items,
};
