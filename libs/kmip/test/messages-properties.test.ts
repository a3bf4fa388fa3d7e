// Typed-message properties: generated requests and responses in KMIP 1.x and
// 2.x round-trip through bytes; mutated encodings fail only with the codec's
// own errors (KmipError), never anything else.
import fc from 'fast-check';
import {
  Attribute, CryptographicAlgorithm, ItemType, Operation, ProtocolVersion, RequestMessage, ResponseMessage, ResultStatus,
  Tag, TtlvNode, attr, decodeRequest, decodeResponse, encodeRequest, encodeResponse, resultReasonOf, sampleGetResponse, vcenter,
} from '@keywarden/kmip';
import { mutate, prng } from './arbitraries';

const v1 = fc.constantFrom<ProtocolVersion>({ major: 1, minor: 0 }, { major: 1, minor: 1 }, { major: 1, minor: 2 }, { major: 1, minor: 4 });
const v2 = fc.constantFrom<ProtocolVersion>({ major: 2, minor: 0 }, { major: 2, minor: 1 });
const uid = fc.uuid();
const text = fc.string({ unit: 'grapheme', maxLength: 30 });
const customName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,15}$/).chain((n) => fc.constantFrom(`x-${n}`, `y-${n}`));

const customValue: fc.Arbitrary<TtlvNode> = fc.oneof(
  text.map((value) => ({ tag: Tag.AttributeValue, type: ItemType.TextString, value }) as TtlvNode),
  fc.integer({ min: -1000, max: 1000 }).map((value) => ({ tag: Tag.AttributeValue, type: ItemType.Integer, value }) as TtlvNode),
  fc.boolean().map((value) => ({ tag: Tag.AttributeValue, type: ItemType.Boolean, value }) as TtlvNode),
  fc.uint8Array({ maxLength: 16 }).map((a) => ({ tag: Tag.AttributeValue, type: ItemType.ByteString, value: Buffer.from(a) }) as TtlvNode),
  fc.bigInt({ min: 0n, max: 1n << 40n }).map((value) => ({ tag: Tag.AttributeValue, type: ItemType.DateTime, value }) as TtlvNode),
);

function attribute(withIndex: boolean): fc.Arbitrary<Attribute> {
  const idx = withIndex ? fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }) : fc.constant(undefined);
  return fc.oneof(
    fc.tuple(customName, customValue, idx).map(([name, value, index]) => ({ name, index, value })),
    fc.constantFrom(CryptographicAlgorithm.AES, CryptographicAlgorithm._3DES).map((a) => attr.enumeration('Cryptographic Algorithm', a)),
    fc.constantFrom(128, 192, 256).map((n) => attr.integer('Cryptographic Length', n)),
    fc.integer({ min: 0, max: 0xffff }).map((m) => attr.integer('Cryptographic Usage Mask', m)),
    text.map((g) => attr.text('Object Group', g)),
    fc.tuple(text, idx).map(([n, index]) => attr.name(n, 1, index)),
  );
}

function requestItem(version: ProtocolVersion) {
  const a = attribute(version.major === 1);
  const id = fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)), { nil: undefined });
  return fc.tuple(id, fc.oneof(
    fc.array(a, { maxLength: 4 }).map((attributes) => ({ operation: Operation.Create, payload: { objectType: 2, attributes } })),
    uid.map((u) => ({ operation: Operation.Get, payload: { uniqueIdentifier: u } })),
    fc.tuple(uid, fc.array(customName, { maxLength: 3 })).map(([u, attributeNames]) => ({ operation: Operation.GetAttributes, payload: { uniqueIdentifier: u, attributeNames } })),
    fc.tuple(uid, a).map(([u, attribute]) => ({ operation: Operation.AddAttribute, payload: { uniqueIdentifier: u, attribute } })),
    fc.tuple(fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }), fc.array(a, { maxLength: 3 })).map(([maximumItems, attributes]) => ({ operation: Operation.Locate, payload: { maximumItems, attributes } })),
    fc.tuple(uid, fc.integer({ min: 1, max: 8 }), fc.option(text, { nil: undefined })).map(([u, code, msg]) => ({ operation: Operation.Revoke, payload: { uniqueIdentifier: u, revocationReasonCode: code, revocationMessage: msg } })),
    uid.map((u) => ({ operation: Operation.Activate, payload: { uniqueIdentifier: u } })),
    uid.map((u) => ({ operation: Operation.Destroy, payload: { uniqueIdentifier: u } })),
    fc.constant({ operation: Operation.DiscoverVersions, payload: { protocolVersions: [{ major: 1, minor: 1 }] } }),
    fc.constant({ operation: Operation.Query, payload: { queryFunctions: [1, 3] } }),
  )).map(([uniqueBatchItemId, item]) => ({ ...item, uniqueBatchItemId }));
}

const arbRequest: fc.Arbitrary<RequestMessage> = fc.oneof(v1, v2).chain((version) =>
  fc.array(requestItem(version), { minLength: 1, maxLength: 4 }).map((batchItems) => ({
    header: { protocolVersion: version, batchCount: batchItems.length },
    batchItems,
  })),
);

describe('typed message properties', () => {
  test('requests (1.x and 2.x) round-trip through bytes', () => {
    fc.assert(fc.property(arbRequest, (m) => {
      const back = decodeRequest(encodeRequest(m));
      expect(back).toEqual(m);
    }), { numRuns: 1500 });
  });

  test('responses with attributes round-trip through bytes', () => {
    fc.assert(fc.property(fc.oneof(v1, v2), uid, fc.array(attribute(false), { maxLength: 5 }), (version, u, attributes) => {
      const m: ResponseMessage = {
        header: { protocolVersion: version, timeStamp: 1n, batchCount: 1 },
        batchItems: [{ operation: Operation.GetAttributes, resultStatus: ResultStatus.Success, payload: { uniqueIdentifier: u, attributes } }],
      };
      expect(decodeResponse(encodeResponse(m))).toEqual(m);
    }), { numRuns: 800 });
  });
});

describe('typed fuzz: mutated messages', () => {
  test('110,000 mutated requests and responses fail only with a KMIP Result Reason (KmipError, or malformed TTLV)', () => {
    const rnd = prng(0x4b4d);
    const seeds = [
      ...fc.sample(arbRequest, { numRuns: 200, seed: 7 }).map(encodeRequest),
      encodeRequest(vcenter.create(1)), encodeRequest(vcenter.tagBatch(2, 'u')),
    ];
    const responses = [encodeResponse(sampleGetResponse('u', Buffer.alloc(32, 1)))];
    let rejected = 0;
    for (let i = 0; i < 110_000; i++) {
      const isResponse = i % 11 === 10;
      const src = isResponse ? responses[0] : seeds[i % seeds.length];
      const input = mutate(src, rnd);
      try {
        if (isResponse) decodeResponse(input);
        else decodeRequest(input);
      } catch (e) {
        // A KMIP error, or malformed TTLV (Invalid Message): never anything else.
        if (resultReasonOf(e) === undefined) throw new Error(`case ${i}: ${input.toString('hex')} threw ${String(e)}`);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(50_000);
  });
});
