// Get Attributes — KMIP 1.4 §4.12; KMIP 2.1 §6.1.24.
import { Operation } from '../../generated';
import { Attribute } from '../attributes';
import { OperationCodec } from './codec';
import { decodeAttributeNames, decodeInlineAttributes, encodeAttributeNames, encodeInlineAttributes, optUid, reqUid, uidNode } from './common';

export interface GetAttributesRequest {
  uniqueIdentifier?: string;
  /** Empty = all attributes. */
  attributeNames: string[];
}

export interface GetAttributesResponse {
  uniqueIdentifier: string;
  attributes: Attribute[];
}

export const getAttributes: OperationCodec<GetAttributesRequest, GetAttributesResponse> = {
  operation: Operation.GetAttributes,
  decodeRequest: (r, v) => ({ uniqueIdentifier: optUid(r), attributeNames: decodeAttributeNames(r, v) }),
  encodeRequest: (p, v) => [...uidNode(p.uniqueIdentifier), ...encodeAttributeNames(p.attributeNames, v)],
  decodeResponse: (r, v) => ({ uniqueIdentifier: reqUid(r), attributes: decodeInlineAttributes(r, v) }),
  encodeResponse: (p, v) => [...uidNode(p.uniqueIdentifier), ...encodeInlineAttributes(p.attributes, v)],
};
