// MAC — KMIP 1.4 §4.33 (new in 1.2); KMIP 2.1 §6.1.29.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { CryptoRequestBase, decodeCryptoBase, encodeCryptoHead, encodeCryptoTail } from './crypto-common';
import { reqUid } from './common';

export interface MacRequest extends CryptoRequestBase {
  data?: Buffer;
}

export interface MacResponse {
  uniqueIdentifier: string;
  macData?: Buffer;
  correlationValue?: Buffer;
}

export const mac: OperationCodec<MacRequest, MacResponse> = {
  operation: Operation.MAC,
  decodeRequest: (r) => ({ ...decodeCryptoBase(r), data: r.opt(Tag.Data, ItemType.ByteString) }),
  encodeRequest: (p) => encodeCryptoTail(encodeCryptoHead(new StructBuilder(), p).bytes(Tag.Data, p.data), p).items,
  decodeResponse: (r) => ({
    uniqueIdentifier: reqUid(r),
    macData: r.opt(Tag.MACData, ItemType.ByteString),
    correlationValue: r.opt(Tag.CorrelationValue, ItemType.ByteString),
  }),
  encodeResponse: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .bytes(Tag.MACData, p.macData)
    .bytes(Tag.CorrelationValue, p.correlationValue)
    .items,
};
