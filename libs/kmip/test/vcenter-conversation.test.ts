// The vCenter conversation of docs/vcenter.md, built as typed messages,
// encoded, decoded back and compared; every response also passes the KMIP 1.1
// version check (vCenter speaks 1.1 and breaks on tags 1.1 does not define).
import {
  ENUM_INFO, ItemType, KMIP_VERSIONS, KmipVersion, TAG_INFO, enumValueDefinedIn, tagDefinedIn,
  Operation, RequestMessage, ResponseMessage, ResultReason, ResultStatus, assertDefinedIn,
  decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeResponseTree, response,
  vcenterBatchId, vcenterConversation, versionViolations,
} from '@keywarden/kmip';

const uid = '7f1c2a6e-3b8d-4c55-9f1e-2d4a6b8c0e11';
const key = Buffer.alloc(32, 0xab);

const conversation = vcenterConversation(uid, key);
const requests: Array<[string, RequestMessage]> = conversation.requests;
const ok = (operation: number, id: number, payload: unknown) => ({ operation, uniqueBatchItemId: vcenterBatchId(id), resultStatus: ResultStatus.Success, payload });
const responses: Array<[string, ResponseMessage]> = [
  ...conversation.responses,
  ['error item', response([{ operation: Operation.Get, uniqueBatchItemId: vcenterBatchId(12), resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.ItemNotFound, resultMessage: 'no such object' }])],
];

describe('vCenter conversation requests', () => {
  test.each(requests)('%s: encode -> decode is the identity', (_name, m) => {
    const bytes = encodeRequest(m);
    expect(decodeRequest(bytes)).toEqual(m);
    expect(encodeRequest(decodeRequest(bytes)).equals(bytes)).toBe(true);
  });

  test('the Unique Batch Item ID is QLKC + little-endian counter', () => {
    expect(vcenterBatchId(0x0102).toString('hex')).toBe(Buffer.from('QLKC').toString('hex') + '02010000');
  });
});

describe('vCenter conversation responses', () => {
  test.each(responses)('%s: encode -> decode is the identity and KMIP 1.1-clean', (_name, m) => {
    const bytes = encodeResponse(m);
    expect(decodeResponse(bytes)).toEqual(m);
    expect(versionViolations(encodeResponseTree(m), { major: 1, minor: 1 })).toEqual([]);
  });

  test('the version check catches a 1.3 tag in a 1.1 response', () => {
    const m = response([ok(Operation.Locate, 1, { locatedItems: 1, uniqueIdentifiers: [uid] })], { major: 1, minor: 3 });
    const tree = encodeResponseTree(m);
    // Located Items exists from 1.3: fine for 1.3, a violation if the same tree claimed 1.1.
    expect(versionViolations(tree, { major: 1, minor: 3 })).toEqual([]);
    expect(versionViolations(tree, { major: 1, minor: 1 }).map((v) => v.problem).join()).toMatch(/Located Items/);
    expect(() => assertDefinedIn(tree, { major: 1, minor: 1 })).toThrow(/not defined in KMIP 1.1/);
  });

  test('the Locate encoder itself omits Located Items for a 1.1 client', () => {
    const m = response([ok(Operation.Locate, 1, { locatedItems: 1, uniqueIdentifiers: [uid] })]);
    expect(versionViolations(encodeResponseTree(m), { major: 1, minor: 1 })).toEqual([]);
  });

  test('an enumeration value newer than the client version is flagged', () => {
    // Operation Discover Versions (0x1E) first appears in KMIP 1.1.
    const m = response([ok(Operation.DiscoverVersions, 1, { protocolVersions: [] })], { major: 1, minor: 0 });
    expect(versionViolations(encodeResponseTree(m), { major: 1, minor: 0 }).length).toBeGreaterThan(0);
  });
});

describe('the version check agrees with the registry', () => {
  const versions = KMIP_VERSIONS.map((k) => ({ major: Number(k[0]), minor: Number(k[2]) }));

  test('for every tag in every version', () => {
    for (const v of versions) {
      const key = `${v.major}.${v.minor}` as KmipVersion;
      for (const t of TAG_INFO.values()) {
        const flagged = versionViolations({ tag: t.tag, type: ItemType.ByteString, value: Buffer.alloc(0) }, v).length > 0;
        expect([t.name, key, flagged]).toEqual([t.name, key, !tagDefinedIn(t.tag, key)]);
      }
    }
  });

  test('for every value of every enumeration carried by a tag', () => {
    for (const v of versions) {
      const key = `${v.major}.${v.minor}` as KmipVersion;
      for (const t of TAG_INFO.values()) {
        if (!t.enumName || t.type !== 'Enumeration' || !tagDefinedIn(t.tag, key)) continue;
        for (const ev of ENUM_INFO.get(t.enumName)?.values ?? []) {
          const flagged = versionViolations({ tag: t.tag, type: ItemType.Enumeration, value: ev.value }, v).length > 0;
          expect([t.name, ev.name, key, flagged]).toEqual([t.name, ev.name, key, !enumValueDefinedIn(t.enumName, ev.value, key)]);
        }
      }
    }
  });
});
