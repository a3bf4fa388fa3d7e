// Get Attribute List — KMIP 1.4 §4.13; KMIP 2.1 §6.1.23.
import { Operation } from '../../generated';
import { OperationCodec } from './codec';
import { UidPayload, decodeAttributeNames, encodeAttributeNames, optUid, reqUid, uidNode } from './common';

export interface GetAttributeListResponse {
  uniqueIdentifier: string;
  attributeNames: string[];
}

export const getAttributeList: OperationCodec<UidPayload, GetAttributeListResponse> = {
  operation: Operation.GetAttributeList,
  decodeRequest: (r) => ({ uniqueIdentifier: optUid(r) }),
  encodeRequest: (p) => uidNode(p.uniqueIdentifier),
  decodeResponse: (r, v) => ({ uniqueIdentifier: reqUid(r), attributeNames: decodeAttributeNames(r, v) }),
  encodeResponse: (p, v) => [...uidNode(p.uniqueIdentifier), ...encodeAttributeNames(p.attributeNames, v)],
};
