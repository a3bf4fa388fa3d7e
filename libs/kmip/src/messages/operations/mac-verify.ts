// MAC Verify — KMIP 1.4 §4.34 (new in 1.2); KMIP 2.1 §6.1.30.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { CryptoRequestBase, decodeCryptoBase, encodeCryptoHead, encodeCryptoTail } from './crypto-common';
import { reqUid } from './common';

export interface MacVerifyRequest extends CryptoRequestBase {
  data?: Buffer;
  macData?: Buffer;
}

export interface MacVerifyResponse {
  uniqueIdentifier: string;
  validityIndicator: number;
  correlationValue?: Buffer;
}

export const macVerify: OperationCodec<MacVerifyRequest, MacVerifyResponse> = {
  operation: Operation.MACVerify,
  decodeRequest: (r) => ({ ...decodeCryptoBase(r), data: r.opt(Tag.Data, ItemType.ByteString), macData: r.opt(Tag.MACData, ItemType.ByteString) }),
  encodeRequest: (p) => encodeCryptoTail(encodeCryptoHead(new StructBuilder(), p).bytes(Tag.Data, p.data).bytes(Tag.MACData, p.macData), p).items,
  decodeResponse: (r) => ({
    uniqueIdentifier: reqUid(r),
    validityIndicator: r.req(Tag.ValidityIndicator, ItemType.Enumeration),
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
  }),
  encodeResponse: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .enumeration(Tag.ValidityIndicator, p.validityIndicator)
    .bytes(Tag.CorrelationValue, p.correlationValue)
    .items,
};
