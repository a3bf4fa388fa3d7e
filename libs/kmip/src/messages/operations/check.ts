// Check — KMIP 1.4 §4.10; KMIP 2.1 §6.1.5.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder, StructReader } from '../struct';
import { OperationCodec } from './codec';
import { optUid, reqUid } from './common';

export interface CheckPayload {
  uniqueIdentifier?: string;
  usageLimitsCount?: bigint;
  cryptographicUsageMask?: number;
  leaseTime?: number;
}

function fields(r: StructReader) {
  return {
    usageLimitsCount: r.opt(Tag.UsageLimitsCount, ItemType.LongInteger),
    cryptographicUsageMask: r.opt(Tag.CryptographicUsageMask, ItemType.Integer),
    leaseTime: r.opt(Tag.LeaseTime, ItemType.Interval),
  };
}

function encode(p: CheckPayload) {
  return new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .longInteger(Tag.UsageLimitsCount, p.usageLimitsCount)
    .integer(Tag.CryptographicUsageMask, p.cryptographicUsageMask)
    .interval(Tag.LeaseTime, p.leaseTime)
    .items;
}

export const check: OperationCodec<CheckPayload, CheckPayload & { uniqueIdentifier: string }> = {
  operation: Operation.Check,
  decodeRequest: (r) => ({ uniqueIdentifier: optUid(r), ...fields(r) }),
  encodeRequest: encode,
  decodeResponse: (r) => ({ uniqueIdentifier: reqUid(r), ...fields(r) }),
  encodeResponse: encode,
};
