// KMIP 1.1 test-case messages: decoded to typed messages with the values the
// test-case document states, re-encoded byte-exactly.
import {
  CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, ResultStatus, attr, decodeRequest, decodeResponse,
  encodeRequest, encodeResponse, fromHex,
} from '@keywarden/kmip';
import { KMIP_11_TEST_CASES as V } from './fixtures/kmip-1.1-test-cases';

const v11 = { major: 1, minor: 1 };

describe('KMIP 1.1 test-case requests', () => {
  test.each(['create_request', 'get_request', 'destroy_request', 'locate_request'])('%s round-trips byte-exactly', (name) => {
    const bytes = fromHex(V[name].hex);
    expect(encodeRequest(decodeRequest(bytes)).toString('hex')).toBe(bytes.toString('hex'));
  });

  test('Create (§3.1.1): Symmetric Key, AES, 128 bits, Encrypt|Decrypt', () => {
    const m = decodeRequest(fromHex(V.create_request.hex));
    expect(m.header.protocolVersion).toEqual(v11);
    expect(m.header.batchCount).toBe(1);
    expect(m.batchItems[0].operation).toBe(Operation.Create);
    expect(m.batchItems[0].payload).toEqual({
      objectType: ObjectType.SymmetricKey,
      attributes: [
        attr.enumeration('Cryptographic Algorithm', CryptographicAlgorithm.AES),
        attr.integer('Cryptographic Length', 128),
        attr.integer('Cryptographic Usage Mask', 0x0c),
      ],
    });
  });

  test('Locate (§3.1.3): by Object Type and Name', () => {
    const m = decodeRequest(fromHex(V.locate_request.hex));
    expect(m.batchItems[0].operation).toBe(Operation.Locate);
    expect(m.batchItems[0].payload.attributes).toEqual([
      attr.enumeration('Object Type', ObjectType.SymmetricKey),
      attr.name('Key1', 1),
    ]);
  });

  test('Get and Destroy carry only the Unique Identifier', () => {
    expect(decodeRequest(fromHex(V.get_request.hex)).batchItems[0].payload).toEqual({ uniqueIdentifier: '49a1ca88-6bea-4fb2-b450-7e58802c3038' });
    const d = decodeRequest(fromHex(V.destroy_request.hex)).batchItems[0];
    expect(d.operation).toBe(Operation.Destroy);
    expect(d.payload).toEqual({ uniqueIdentifier: 'fb4b5b9c-6188-4c63-8142-fe9c328129fc' });
  });
});

describe('KMIP 1.1 test-case responses', () => {
  test.each(['create_response', 'get_response', 'destroy_response', 'locate_response'])('%s round-trips byte-exactly', (name) => {
    const bytes = fromHex(V[name].hex);
    expect(encodeResponse(decodeResponse(bytes)).toString('hex')).toBe(bytes.toString('hex'));
  });

  test('Create response: header time stamp, Success, uid', () => {
    const m = decodeResponse(fromHex(V.create_response.hex));
    expect(m.header).toEqual({ protocolVersion: v11, timeStamp: 0x4f9a54e5n, batchCount: 1 });
    expect(m.batchItems[0]).toMatchObject({
      operation: Operation.Create,
      resultStatus: ResultStatus.Success,
      payload: { objectType: ObjectType.SymmetricKey, uniqueIdentifier: 'fb4b5b9c-6188-4c63-8142-fe9c328129fc' },
    });
  });

  test('Get response: Raw Triple DES key of 168 bits', () => {
    const m = decodeResponse(fromHex(V.get_response.hex));
    const p = m.batchItems[0].payload;
    expect(p.objectType).toBe(ObjectType.SymmetricKey);
    expect(p.uniqueIdentifier).toBe('49a1ca88-6bea-4fb2-b450-7e58802c3038');
    expect(p.object.keyBlock).toEqual({
      keyFormatType: KeyFormatType.Raw,
      keyMaterial: Buffer.from('73675780 51012a6d 134a855e 25c8cd5e 4ca13145 5729d3c8'.replace(/ /g, ''), 'hex'),
      cryptographicAlgorithm: CryptographicAlgorithm._3DES,
      cryptographicLength: 168,
      keyCompressionType: undefined,
      keyValueAttributes: undefined,
      keyWrappingData: undefined,
    });
  });

  test('Locate response lists the located uid', () => {
    expect(decodeResponse(fromHex(V.locate_response.hex)).batchItems[0].payload).toEqual({
      locatedItems: undefined,
      uniqueIdentifiers: ['49a1ca88-6bea-4fb2-b450-7e58802c3038'],
    });
  });
});
