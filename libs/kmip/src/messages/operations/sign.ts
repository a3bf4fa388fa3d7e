// Sign — KMIP 1.4 §4.31 (new in 1.2); KMIP 2.1 §6.1.45.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { CryptoRequestBase, decodeCryptoBase, encodeCryptoHead, encodeCryptoTail } from './crypto-common';
import { reqUid } from './common';

export interface SignRequest extends CryptoRequestBase {
  data?: Buffer;
  /** 1.4+: the digest of the data, to be signed as it is. */
  digestedData?: Buffer;
}

export interface SignResponse {
  uniqueIdentifier: string;
  signatureData?: Buffer;
  correlationValue?: Buffer;
}

export const sign: OperationCodec<SignRequest, SignResponse> = {
  operation: Operation.Sign,
  decodeRequest: (r) => ({ ...decodeCryptoBase(r), data: r.opt(Tag.Data, ItemType.ByteString), digestedData: r.opt(Tag.DigestedData, ItemType.ByteString) }),
  encodeRequest: (p) => encodeCryptoTail(encodeCryptoHead(new StructBuilder(), p).bytes(Tag.Data, p.data).bytes(Tag.DigestedData, p.digestedData), p).items,
  decodeResponse: (r) => ({
    uniqueIdentifier: reqUid(r),
    signatureData: r.opt(Tag.SignatureData, ItemType.ByteString),
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
  }),
  encodeResponse: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .bytes(Tag.SignatureData, p.signatureData)
    .bytes(Tag.CorrelationValue, p.correlationValue)
    .items,
};
