// The codecs of Create Key Pair, Derive Key and the cryptographic
// operations, and of the object kinds and Key Block forms they carry
// (transparent key material, Key Wrapping Data with either encoding,
// certificates, opaque objects): round trips through bytes in KMIP 1.x and
// 2.x, the field layouts the specification gives (KMIP 1.4 §2.1.3-§2.1.7,
// §4.2, §4.6, §4.29-§4.35), and what the version check lets through.
import {
  decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeResponseTree, EncodingOption, ItemType, KeyFormatType, ObjectType, Operation,
  ProtocolVersion, RequestBatchItem, ResponseBatchItem, ResultStatus, Tag, TtlvNode, WrappingMethod, attr, decodeTtlv, encodeTtlv, request, response,
  versionViolations,
} from '@keywarden/kmip';

const V10: ProtocolVersion = { major: 1, minor: 0 };
const V14: ProtocolVersion = { major: 1, minor: 4 };
const V20: ProtocolVersion = { major: 2, minor: 0 };

const params: TtlvNode = { tag: Tag.CryptographicParameters, type: ItemType.Structure, value: [{ tag: Tag.BlockCipherMode, type: ItemType.Enumeration, value: 9 }] };

function roundTripRequest(item: RequestBatchItem, v: ProtocolVersion): RequestBatchItem {
  const m = decodeRequest(encodeRequest(request([item], v)));
  const [out] = m.batchItems;
  expect(out.payloadError).toBeUndefined();
  return out;
}

function roundTripResponse(item: ResponseBatchItem, v: ProtocolVersion): ResponseBatchItem {
  return decodeResponse(encodeResponse(response([item], v))).batchItems[0];
}

/** The tags of a payload's top-level fields, in order. */
function layout(item: RequestBatchItem, v: ProtocolVersion): number[] {
  const tree = decodeTtlv(encodeRequest(request([item], v)));
  const bi = (tree.value as TtlvNode[]).find((n) => n.tag === Tag.BatchItem) as TtlvNode;
  const payload = (bi.value as TtlvNode[]).find((n) => n.tag === Tag.RequestPayload) as TtlvNode;
  return (payload.value as TtlvNode[]).map((n) => n.tag);
}

describe('requests round-trip with the fields in the order the specification gives', () => {
  it('Create Key Pair: three Template-Attributes in 1.x, three Attributes structures in 2.x', () => {
    const payload = {
      commonAttributes: [attr.enumeration('Cryptographic Algorithm', 4), attr.integer('Cryptographic Length', 2048)],
      privateKeyAttributes: [attr.name('priv')], publicKeyAttributes: [attr.name('pub')],
    };
    const item = { operation: Operation.CreateKeyPair, payload };
    expect(layout(item, V14)).toEqual([Tag.CommonTemplateAttribute, Tag.PrivateKeyTemplateAttribute, Tag.PublicKeyTemplateAttribute]);
    expect(layout(item, V20)).toEqual([Tag.CommonAttributes, Tag.PrivateKeyAttributes, Tag.PublicKeyAttributes]);
    for (const v of [V14, V20]) expect(roundTripRequest(item, v).payload).toEqual(payload);
  });

  it('Encrypt and Decrypt (with the 1.4 authenticated-encryption fields)', () => {
    const enc = { uniqueIdentifier: 'k', cryptographicParameters: params, data: Buffer.from('d'), ivCounterNonce: Buffer.alloc(12, 1), authenticatedEncryptionAdditionalData: Buffer.from('a') };
    expect(layout({ operation: Operation.Encrypt, payload: enc }, V14)).toEqual([Tag.UniqueIdentifier, Tag.CryptographicParameters, Tag.Data, Tag.IVCounterNonce, Tag.AuthenticatedEncryptionAdditionalData]);
    expect(roundTripRequest({ operation: Operation.Encrypt, payload: enc }, V14).payload).toMatchObject(enc);
    const dec = { ...enc, authenticatedEncryptionTag: Buffer.alloc(16, 2) };
    expect(roundTripRequest({ operation: Operation.Decrypt, payload: dec }, V14).payload).toMatchObject(dec);
  });

  it('Sign, Signature Verify, MAC, MAC Verify, RNG Retrieve, and the streaming fields', () => {
    const cases: RequestBatchItem[] = [
      { operation: Operation.Sign, payload: { uniqueIdentifier: 'p', data: Buffer.from('x'), initIndicator: true } },
      { operation: Operation.SignatureVerify, payload: { uniqueIdentifier: 'p', data: Buffer.from('x'), signatureData: Buffer.from('s'), correlationValue: Buffer.from('c') } },
      { operation: Operation.MAC, payload: { uniqueIdentifier: 'h', cryptographicParameters: params, data: Buffer.from('x'), finalIndicator: false } },
      { operation: Operation.MACVerify, payload: { uniqueIdentifier: 'h', data: Buffer.from('x'), macData: Buffer.from('m') } },
      { operation: Operation.RNGRetrieve, payload: { dataLength: 32 } },
    ];
    for (const item of cases) expect(roundTripRequest(item, V14).payload).toMatchObject(item.payload as object);
  });

  it('Derive Key: several base objects, Derivation Parameters, attributes', () => {
    const payload = {
      objectType: ObjectType.SymmetricKey, uniqueIdentifiers: ['a', 'b'], derivationMethod: 1,
      derivationParameters: { cryptographicParameters: params, salt: Buffer.from('s'), iterationCount: 10, derivationData: Buffer.from('d') },
      attributes: [attr.integer('Cryptographic Length', 128)],
    };
    const item = { operation: Operation.DeriveKey, payload };
    expect(layout(item, V14)).toEqual([Tag.ObjectType, Tag.UniqueIdentifier, Tag.UniqueIdentifier, Tag.DerivationMethod, Tag.DerivationParameters, Tag.TemplateAttribute]);
    for (const v of [V14, V20]) {
      expect(roundTripRequest(item, v).payload).toMatchObject({ ...payload, attributes: [expect.objectContaining({ name: 'Cryptographic Length', value: expect.objectContaining({ value: 128 }) })] });
    }
  });

  it('Get with a Key Wrapping Specification', () => {
    const spec = { wrappingMethod: WrappingMethod.Encrypt, encryptionKeyInformation: { uniqueIdentifier: 'kek', cryptographicParameters: params }, attributeNames: ['Name'], encodingOption: EncodingOption.NoEncoding };
    expect(roundTripRequest({ operation: Operation.Get, payload: { uniqueIdentifier: 'k', keyWrappingSpecification: spec } }, V14).payload.keyWrappingSpecification).toEqual({ ...spec, macSignatureKeyInformation: undefined });
  });
});

describe('objects and Key Blocks', () => {
  const get = (object: object, objectType: number): ResponseBatchItem => ({
    operation: Operation.Get, resultStatus: ResultStatus.Success, payload: { objectType, uniqueIdentifier: 'u', object },
  });

  it('a transparent key: its Key Material is a structure of the given fields', () => {
    const transparent: TtlvNode[] = [{ tag: Tag.Modulus, type: ItemType.BigInteger, value: (1n << 2047n) + 12345n }, { tag: Tag.PublicExponent, type: ItemType.BigInteger, value: 65537n }];
    const object = { objectType: ObjectType.PublicKey, keyBlock: { keyFormatType: KeyFormatType.TransparentRSAPublicKey, keyMaterial: Buffer.alloc(0), transparent, cryptographicAlgorithm: 4, cryptographicLength: 2048 } };
    expect(roundTripResponse(get(object, ObjectType.PublicKey), V14).payload.object).toMatchObject(object);
  });

  it('wrapped with No Encoding: the Key Value stays a structure holding the wrapped bytes; with TTLV Encoding it is a Byte String', () => {
    const wrap = (encodingOption: number) => ({ wrappingMethod: WrappingMethod.Encrypt, encryptionKeyInformation: { uniqueIdentifier: 'kek', cryptographicParameters: params }, encodingOption });
    for (const [encodingOption, keyValueType] of [[EncodingOption.NoEncoding, ItemType.Structure], [EncodingOption.TTLVEncoding, ItemType.ByteString]]) {
      const object = { objectType: ObjectType.SymmetricKey, keyBlock: { keyFormatType: KeyFormatType.Raw, keyMaterial: Buffer.alloc(24, 5), keyWrappingData: wrap(encodingOption) } };
      const tree = encodeResponseTree(response([get(object, ObjectType.SymmetricKey)], V14));
      const find = (n: TtlvNode, tag: number): TtlvNode | undefined => n.tag === tag ? n : n.type === ItemType.Structure ? n.value.map((c) => find(c, tag)).find(Boolean) : undefined;
      expect(find(tree, Tag.KeyValue)?.type).toBe(keyValueType);
      expect(roundTripResponse(get(object, ObjectType.SymmetricKey), V14).payload.object.keyBlock).toMatchObject(object.keyBlock);
    }
  });

  it('a certificate and an opaque object (an extension Opaque Data Type) pass the version check of KMIP 1.0', () => {
    const cert = { objectType: ObjectType.Certificate, certificateType: 1, certificateValue: Buffer.from([0x30, 0x03, 1, 2, 3]) };
    const opaque = { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000000, opaqueDataValue: Buffer.from('v') };
    for (const [o, t] of [[cert, ObjectType.Certificate], [opaque, ObjectType.OpaqueObject]] as const) {
      expect(versionViolations(encodeResponseTree(response([get(o, t)], V10)), V10)).toEqual([]);
      expect(roundTripResponse(get(o, t), V10).payload.object).toEqual(o);
    }
    // A value below the extension range that 1.0 does not define is still caught.
    const ec = { objectType: ObjectType.PublicKey, keyBlock: { keyFormatType: KeyFormatType.X509, keyMaterial: Buffer.from('k'), cryptographicAlgorithm: 0x1a } };
    expect(versionViolations(encodeResponseTree(response([get(ec, ObjectType.PublicKey)], V10)), V10).map((x) => x.problem)).toEqual(['CryptographicAlgorithm value 0x1a is not defined in KMIP 1.0']);
  });

  it('the Key Value a TTLV Encoding wraps decodes as one', () => {
    const object = { objectType: ObjectType.SymmetricKey, keyBlock: { keyFormatType: KeyFormatType.Raw, keyMaterial: Buffer.alloc(16, 1) } };
    const tree = encodeResponseTree(response([get(object, ObjectType.SymmetricKey)], V14));
    const bytes = encodeTtlv(tree);
    expect(decodeTtlv(bytes)).toEqual(tree);
  });
});
