// Messages shaped like those vCenter 7.0.3 sends (docs/vcenter.md), for
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

/**
 * The whole conversation of docs/vcenter.md for one new key: every request
 * vCenter sends and the answer it gets, in order.
 */
export function vcenterConversation(uid: string, key: Buffer): { requests: Array<[string, RequestMessage]>; responses: Array<[string, ResponseMessage]> } {
  const ok = (operation: number, id: number, payload: unknown): ResponseBatchItem => ({ operation, uniqueBatchItemId: vcenterBatchId(id), resultStatus: ResultStatus.Success, payload });
  const later: Array<[string, string]> = [['x-Identifier', '564d1f3c-aaaa-bbbb-cccc-0123456789ab'], ['x-Component', 'Virtual Machine'], ['x-Name', 'vm-01']];
  return {
    requests: [
      ['1a. Discover Versions, empty, no batch id', vcenter.discoverVersions()],
      ['1b. Discover Versions with a batch id', vcenter.discoverVersions(1)],
      ['2. Query Server Information', vcenter.queryServerInformation(2)],
      ['3. Create AES-256 Encrypt|Decrypt', vcenter.create(3)],
      ['4. Get Attributes x-Product_Version', vcenter.getAttributes(4, uid, 'x-Product_Version')],
      ['5. three Add Attribute in one batch', vcenter.tagBatch(5, uid)],
      ['6. Get by uid only', vcenter.get(8, uid)],
      ['7a. Get Attributes State', vcenter.getAttributes(9, uid, 'State')],
      ['7b. Activate', vcenter.activate(10, uid)],
      ['8. tagging x-Identifier, x-Component, x-Name', vcenter.tagBatch(11, uid, later)],
    ],
    responses: [
      ['1. Discover Versions answer', response([ok(Operation.DiscoverVersions, 1, { protocolVersions: [{ major: 1, minor: 1 }, { major: 1, minor: 0 }] })])],
      ['2. Query answer', response([ok(Operation.Query, 2, { operations: [Operation.Create, Operation.Get], objectTypes: [ObjectType.SymmetricKey], vendorIdentification: 'keywarden', serverInformation: [] })])],
      ['3. Create answer', response([ok(Operation.Create, 3, { objectType: ObjectType.SymmetricKey, uniqueIdentifier: uid })])],
      ['4. absent custom attribute: success with just the uid', response([ok(Operation.GetAttributes, 4, { uniqueIdentifier: uid, attributes: [] })])],
      ['5. three Add Attribute answers', response(VCENTER_TAGS.map(([n, v], i) => ok(Operation.AddAttribute, 5 + i, { uniqueIdentifier: uid, attribute: attr.text(n, v) })))],
      ['6. Get answer: Raw AES 256', sampleGetResponse(uid, key, 8)],
      ['7a. State Pre-Active', response([ok(Operation.GetAttributes, 9, { uniqueIdentifier: uid, attributes: [attr.enumeration('State', State.PreActive)] })])],
      ['7b. Activate answer', response([ok(Operation.Activate, 10, { uniqueIdentifier: uid })])],
      ['8. three Add Attribute answers', response(later.map(([n, v], i) => ok(Operation.AddAttribute, 11 + i, { uniqueIdentifier: uid, attribute: attr.text(n, v) })))],
    ],
  };
}

