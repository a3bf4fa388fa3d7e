// Operations whose request is just an optional Unique Identifier and whose
// response is the Unique Identifier: Activate (KMIP 1.4 spec §4.19; 2.1
// §6.1.1), Destroy (1.4 §4.21; 2.1 §6.1.15).
import { Operation } from '../../generated';
import { OperationCodec } from './codec';
import { UidPayload, optUid, reqUid, uidNode } from './common';

export interface UidResponse {
  uniqueIdentifier: string;
}

function uidOnly(operation: number): OperationCodec<UidPayload, UidResponse> {
  return {
    operation,
    decodeRequest: (r) => ({ uniqueIdentifier: optUid(r) }),
    encodeRequest: (p) => uidNode(p.uniqueIdentifier),
    decodeResponse: (r) => ({ uniqueIdentifier: reqUid(r) }),
    encodeResponse: (p) => uidNode(p.uniqueIdentifier),
  };
}

export const activate = uidOnly(Operation.Activate);
export const destroy = uidOnly(Operation.Destroy);
