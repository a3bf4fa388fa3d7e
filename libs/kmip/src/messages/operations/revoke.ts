// Revoke — KMIP 1.4 §4.20; KMIP 2.1 §6.1.41.
import { ItemType } from '../../ttlv/types';
import { Operation, Tag } from '../../generated';
import { StructBuilder } from '../struct';
import { OperationCodec } from './codec';
import { UidResponse, optUid, reqUid, uidNode } from './common';

export interface RevokeRequest {
  uniqueIdentifier?: string;
  revocationReasonCode: number;
  revocationMessage?: string;
  /** Seconds since the epoch. */
  compromiseOccurrenceDate?: bigint;
}

export const revoke: OperationCodec<RevokeRequest, UidResponse> = {
  operation: Operation.Revoke,
  decodeRequest: (r) => {
    const reason = r.reqStruct(Tag.RevocationReason);
    return {
      uniqueIdentifier: optUid(r),
      revocationReasonCode: reason.req(Tag.RevocationReasonCode, ItemType.Enumeration),
      revocationMessage: reason.opt(Tag.RevocationMessage, ItemType.TextString),
      compromiseOccurrenceDate: r.opt(Tag.CompromiseOccurrenceDate, ItemType.DateTime),
    };
  },
  encodeRequest: (p) => new StructBuilder()
    .text(Tag.UniqueIdentifier, p.uniqueIdentifier)
    .add(new StructBuilder().enumeration(Tag.RevocationReasonCode, p.revocationReasonCode).text(Tag.RevocationMessage, p.revocationMessage).build(Tag.RevocationReason))
    .dateTime(Tag.CompromiseOccurrenceDate, p.compromiseOccurrenceDate)
    .items,
  decodeResponse: (r) => ({ uniqueIdentifier: reqUid(r) }),
  encodeResponse: (p) => uidNode(p.uniqueIdentifier),
};
