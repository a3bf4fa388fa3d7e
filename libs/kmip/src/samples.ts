// Messages shaped like those vCenter 7.0.3 sends (shared/vcenter.md), for
// tests, the load generator and the codec benchmark. Not a capture's bytes:
// built from the described behaviour.

import { CryptographicAlgorithm, ObjectType, Operation, QueryFunction, ResultStatus, State } from './generated';
import { Attribute, attr } from './messages/attributes';
import { RequestBatchItem, RequestMessage, ResponseBatchItem, ResponseMessage } from './messages/message';
import { ProtocolVersion } from './messages/version';

export const VCENTER_VERSION: ProtocolVersion = { major: 1, minor: 1 };

/** vCenter's Unique Batch Item ID: ASCII "QLKC" then a little-endian 32-bit counter. */
export function vcenterBatchId(counter: number): Buffer {
  const b = Buffer.alloc(8);
  b.write('QLKC', 0, 'ascii');
  b.writeUInt32LE(counter >>> 0, 4);
  return b;
}

export function request(items: RequestBatchItem[], version: ProtocolVersion = VCENTER_VERSION): RequestMessage {
  return { header: { protocolVersion: version, batchCount: items.length }, batchItems: items };
}

export function response(items: ResponseBatchItem[], version: ProtocolVersion = VCENTER_VERSION, timeStamp = 1_700_000_000n): ResponseMessage {
  return { header: { protocolVersion: version, timeStamp, batchCount: items.length }, batchItems: items };
}

export const VCENTER_TAGS: Array<[string, string]> = [
  ['x-Product_Version', '7.0.3 build-19480866'],
  ['x-Vendor', 'VMware, Inc.'],
  ['x-Product', 'VMware vSphere'],
];

export const vcenter = {
  discoverVersions: (id?: number): RequestMessage => request([{ operation: Operation.DiscoverVersions, uniqueBatchItemId: id === undefined ? undefined : vcenterBatchId(id), payload: { protocolVersions: [] } }]),
  queryServerInformation: (id: number): RequestMessage => request([{ operation: Operation.Query, uniqueBatchItemId: vcenterBatchId(id), payload: { queryFunctions: [QueryFunction.QueryServerInformation] } }]),
  create: (id: number): RequestMessage => request([{
    operation: Operation.Create,
    uniqueBatchItemId: vcenterBatchId(id),
    payload: {
      objectType: ObjectType.SymmetricKey,
      attributes: [
        attr.enumeration('Cryptographic Algorithm', CryptographicAlgorithm.AES),
        attr.integer('Cryptographic Usage Mask', 12),
        attr.integer('Cryptographic Length', 256),
      ],
    },
  }]),
  getAttributes: (id: number, uid: string, name: string): RequestMessage => request([{ operation: Operation.GetAttributes, uniqueBatchItemId: vcenterBatchId(id), payload: { uniqueIdentifier: uid, attributeNames: [name] } }]),
  tagBatch: (firstId: number, uid: string, tags: Array<[string, string]> = VCENTER_TAGS): RequestMessage => request(tags.map(([name, value], i) => ({
    operation: Operation.AddAttribute,
    uniqueBatchItemId: vcenterBatchId(firstId + i),
    payload: { uniqueIdentifier: uid, attribute: attr.text(name, value) },
  }))),
  get: (id: number, uid: string): RequestMessage => request([{ operation: Operation.Get, uniqueBatchItemId: vcenterBatchId(id), payload: { uniqueIdentifier: uid } }]),
  activate: (id: number, uid: string): RequestMessage => request([{ operation: Operation.Activate, uniqueBatchItemId: vcenterBatchId(id), payload: { uniqueIdentifier: uid } }]),
};

/** A successful Get response carrying a 256-bit AES key in Raw format (what vCenter receives). */
export function sampleGetResponse(uid: string, key: Buffer, id = 7): ResponseMessage {
  return response([{
    operation: Operation.Get,
    uniqueBatchItemId: vcenterBatchId(id),
    resultStatus: ResultStatus.Success,
    payload: {
      objectType: ObjectType.SymmetricKey,
      uniqueIdentifier: uid,
      object: { objectType: ObjectType.SymmetricKey, keyBlock: { keyFormatType: 1, keyMaterial: key, cryptographicAlgorithm: CryptographicAlgorithm.AES, cryptographicLength: 256 } },
    },
  }]);
}

export function stateAttribute(state: number = State.PreActive): Attribute {
  return attr.enumeration('State', state);
}
