// Key pairs, transparent keys, wrapping and the cryptographic operations on
// the wire, through the gateway over real mTLS in front of the real
// key-lifecycle, crk-wrapping, Key Protect emulator and Redis, with libs/kmip's
// own client: what PyKMIP 0.10 cannot send or read (Links, transparent
// structures, TTLV-encoded wrapping, KMIP 1.0 and 2.1 messages, batches with
// the ID Placeholder and Undo), and the answers each version may carry.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'crypto';
import {
  BatchErrorContinuationOption, BlockCipherMode, CryptographicAlgorithm as A, CryptographicUsageMask as U, EncodingOption, ItemType,
  KeyFormatType as F, LinkType, ObjectType, Operation, ProtocolVersion, QueryFunction, RequestBatchItem, ResultReason, ResultStatus, Tag,
  TtlvNode, WrappingMethod, attr, request,
} from '@keywarden/kmip';
import { Gateway, grpcLifecycleBackend, LifecycleBackend, startGateway } from '@keywarden/kmip-gateway';
import { KmipClient, TestStack, TestTenant, startStack } from '../../../test/lib';

jest.setTimeout(60_000);

let stack: TestStack;
let gw: Gateway;
let backend: LifecycleBackend;
let tenant: TestTenant;
let c: KmipClient;

beforeAll(async () => {
  stack = await startStack();
  backend = grpcLifecycleBackend({ address: `localhost:${stack.lifecyclePort}`, tls: stack.pki.gateway });
  gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend });
  tenant = await stack.createTenant('objects-wire');
  c = await KmipClient.connect({ port: gw.port, ca: stack.pki.ca.cert, cert: tenant.client.cert, key: tenant.client.key });
}, 60_000);

afterAll(async () => {
  await c?.close();
  await gw?.close(1000);
  backend?.close();
  await stack?.close();
}, 30_000);

const V10: ProtocolVersion = { major: 1, minor: 0 };
const V12: ProtocolVersion = { major: 1, minor: 2 };
const V14: ProtocolVersion = { major: 1, minor: 4 };
const V21: ProtocolVersion = { major: 2, minor: 1 };

async function batch(items: RequestBatchItem[], v: ProtocolVersion, option?: number) {
  const m = request(items, v);
  if (option !== undefined) m.header.batchErrorContinuationOption = option;
  return (await c.send(m)).batchItems;
}

async function one(item: RequestBatchItem, v: ProtocolVersion) {
  const [r] = await batch([item], v);
  return r;
}

async function ok(item: RequestBatchItem, v: ProtocolVersion) {
  const r = await one(item, v);
  expect({ status: r.resultStatus, reason: r.resultReason, message: r.resultMessage }).toEqual({ status: ResultStatus.Success, reason: undefined, message: undefined });
  return r.payload;
}

const pair = (common: ReturnType<typeof attr.enumeration>[], priv: ReturnType<typeof attr.text>[] = [], pub: ReturnType<typeof attr.text>[] = []): RequestBatchItem => ({
  operation: Operation.CreateKeyPair, payload: { commonAttributes: common, privateKeyAttributes: priv, publicKeyAttributes: pub },
});
const get = (uid: string | undefined, extra: object = {}): RequestBatchItem => ({ operation: Operation.Get, payload: { uniqueIdentifier: uid, ...extra } });
const params = (...fields: Array<[number, number]>): TtlvNode => ({
  tag: Tag.CryptographicParameters, type: ItemType.Structure, value: fields.map(([tag, value]) => ({ tag, type: ItemType.Enumeration, value })),
});

describe('Create Key Pair on the wire', () => {
  it.each([['1.0', V10], ['2.1', V21]])('in KMIP %s: the halves link to each other (Get Attributes)', async (_l, v) => {
    const r = await ok(pair([attr.enumeration('Cryptographic Algorithm', A.RSA), attr.integer('Cryptographic Length', 2048)]), v);
    const links = async (uid: string) => {
      const p = await ok({ operation: Operation.GetAttributes, payload: { uniqueIdentifier: uid, attributeNames: ['Link'] } }, v);
      return p.attributes.map((a: { value: TtlvNode }) => (a.value.value as TtlvNode[]).map((f) => f.value));
    };
    expect(await links(r.privateKeyUniqueIdentifier)).toEqual([[LinkType.PublicKeyLink, r.publicKeyUniqueIdentifier]]);
    expect(await links(r.publicKeyUniqueIdentifier)).toEqual([[LinkType.PrivateKeyLink, r.privateKeyUniqueIdentifier]]);
  });

  it('sets the ID Placeholder to the private key: Activate and Get of it in the same batch', async () => {
    const items = await batch([
      pair([attr.enumeration('Cryptographic Algorithm', A.ECDSA), attr.integer('Cryptographic Length', 256)]),
      { operation: Operation.Activate, payload: {} },
      get(undefined),
    ], V14);
    expect(items.map((i) => i.resultStatus)).toEqual([ResultStatus.Success, ResultStatus.Success, ResultStatus.Success]);
    expect(items[1].payload.uniqueIdentifier).toBe(items[0].payload.privateKeyUniqueIdentifier);
    expect(items[2].payload.objectType).toBe(ObjectType.PrivateKey);
  });

  it('an Undo batch destroys both halves when a later item fails', async () => {
    const items = await batch([
      pair([attr.enumeration('Cryptographic Algorithm', A.ECDSA), attr.integer('Cryptographic Length', 256)], [attr.name('undo-priv')], [attr.name('undo-pub')]),
      { operation: Operation.Get, payload: { uniqueIdentifier: '00000000-0000-0000-0000-000000000000' } },
    ], V14, BatchErrorContinuationOption.Undo);
    expect(items.map((i) => i.resultStatus)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    const located = await ok({ operation: Operation.Locate, payload: { attributes: [attr.name('undo-pub')], storageStatusMask: 4 } }, V14);
    expect(located.uniqueIdentifiers).toHaveLength(1);
    expect((await ok({ operation: Operation.Locate, payload: { attributes: [attr.name('undo-pub')] } }, V14)).uniqueIdentifiers).toEqual([]);
  });
});

describe('transparent keys on the wire', () => {
  it('a Transparent RSA Private Key comes as Big Integers node:crypto reads back to the same key', async () => {
    const r = await ok(pair([attr.enumeration('Cryptographic Algorithm', A.RSA), attr.integer('Cryptographic Length', 2048)]), V14);
    const p8 = await ok(get(r.privateKeyUniqueIdentifier, { keyFormatType: F.PKCS8 }), V14);
    const tr = await ok(get(r.privateKeyUniqueIdentifier, { keyFormatType: F.TransparentRSAPrivateKey }), V14);
    const fields = new Map((tr.object.keyBlock.transparent as TtlvNode[]).map((n) => [n.tag, n]));
    expect(fields.get(Tag.Modulus)?.type).toBe(ItemType.BigInteger);
    const jwk = createPrivateKey({ key: p8.object.keyBlock.keyMaterial, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    const b64 = (tag: number) => {
      const n = fields.get(tag)?.value as bigint;
      return Buffer.from(n.toString(16).padStart(2 * Math.ceil(n.toString(16).length / 2), '0'), 'hex').toString('base64url');
    };
    expect([b64(Tag.Modulus), b64(Tag.PrivateExponent), b64(Tag.P), b64(Tag.CRTCoefficient)]).toEqual([jwk.n, jwk.d, jwk.p, jwk.qi]);
  });

  it('Register of a Transparent EC Public Key (1.3+); its format is refused to a 1.2 client', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const q = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
    const reg = await ok({
      operation: Operation.Register, payload: {
        objectType: ObjectType.PublicKey, attributes: [],
        object: { objectType: ObjectType.PublicKey, keyBlock: { keyFormatType: F.TransparentECPublicKey, keyMaterial: Buffer.alloc(0), cryptographicAlgorithm: A.EC, cryptographicLength: 256, transparent: [
          { tag: Tag.RecommendedCurve, type: ItemType.Enumeration, value: 7 }, { tag: Tag.QString, type: ItemType.ByteString, value: q },
        ] } },
      },
    }, V14);
    const x509 = await ok(get(reg.uniqueIdentifier, { keyFormatType: F.X509 }), V14);
    expect(createPublicKey({ key: x509.object.keyBlock.keyMaterial, format: 'der', type: 'spki' }).export({ format: 'jwk' })).toMatchObject({ x: jwk.x, y: jwk.y });
    const old = await one(get(reg.uniqueIdentifier, { keyFormatType: F.TransparentECPublicKey }), V12);
    expect([old.resultStatus, old.resultReason]).toEqual([ResultStatus.OperationFailed, ResultReason.KeyFormatTypeNotSupported]);
  });
});

describe('key wrapping on the wire', () => {
  let kek: string;
  let target: string;
  beforeAll(async () => {
    const mk = async (usage: number) => {
      const r = await ok({ operation: Operation.Create, payload: { objectType: ObjectType.SymmetricKey, attributes: [
        attr.enumeration('Cryptographic Algorithm', A.AES), attr.integer('Cryptographic Length', 256), attr.integer('Cryptographic Usage Mask', usage),
      ] } }, V14);
      await ok({ operation: Operation.Activate, payload: { uniqueIdentifier: r.uniqueIdentifier } }, V14);
      return r.uniqueIdentifier as string;
    };
    kek = await mk(U.WrapKey | U.UnwrapKey);
    target = await mk(U.Encrypt);
  });

  const spec = (encodingOption?: number) => ({
    wrappingMethod: WrappingMethod.Encrypt, attributeNames: [], encodingOption,
    encryptionKeyInformation: { uniqueIdentifier: kek, cryptographicParameters: params([Tag.BlockCipherMode, BlockCipherMode.AESKeyWrapPadding]) },
  });

  it('TTLV Encoding (the default): the Key Value is a wrapped Byte String, which Register takes back', async () => {
    const w = await ok(get(target, { keyWrappingSpecification: spec() }), V14);
    const kb = w.object.keyBlock;
    expect(kb.keyWrappingData).toMatchObject({ wrappingMethod: WrappingMethod.Encrypt, encodingOption: EncodingOption.TTLVEncoding, encryptionKeyInformation: { uniqueIdentifier: kek } });
    const reg = await ok({ operation: Operation.Register, payload: { objectType: ObjectType.SymmetricKey, attributes: [], object: { objectType: ObjectType.SymmetricKey, keyBlock: kb } } }, V14);
    const [a, b] = [await ok(get(reg.uniqueIdentifier), V14), await ok(get(target), V14)];
    expect(a.object.keyBlock.keyMaterial).toEqual(b.object.keyBlock.keyMaterial);
  });

  it('KMIP 1.0 has no Encoding Option: the answer is TTLV-encoded and carries none', async () => {
    const w = await ok(get(target, { keyWrappingSpecification: { ...spec(), encodingOption: undefined } }), V10);
    expect(w.object.keyBlock.keyWrappingData.encodingOption).toBeUndefined();
    expect(w.object.keyBlock.keyMaterial.length).toBeGreaterThan(32);
  });

  it('refuses wrapping attributes with the key and MAC/sign wrapping', async () => {
    const r = await one(get(target, { keyWrappingSpecification: { ...spec(1), attributeNames: ['Name'] } }), V14);
    expect([r.resultStatus, r.resultReason]).toEqual([ResultStatus.OperationFailed, ResultReason.FeatureNotSupported]);
    const m = await one(get(target, { keyWrappingSpecification: { ...spec(1), wrappingMethod: WrappingMethod.MACSign } }), V14);
    expect([m.resultStatus, m.resultReason]).toEqual([ResultStatus.OperationFailed, ResultReason.FeatureNotSupported]);
  });
});

describe('cryptographic operations on the wire', () => {
  it('AES-GCM in KMIP 2.1 (Authenticated Encryption Tag), refused in 1.2; streaming refused by name', async () => {
    const k = await ok({ operation: Operation.Create, payload: { objectType: ObjectType.SymmetricKey, attributes: [
      attr.enumeration('Cryptographic Algorithm', A.AES), attr.integer('Cryptographic Length', 128),
    ] } }, V21);
    await ok({ operation: Operation.Activate, payload: { uniqueIdentifier: k.uniqueIdentifier } }, V21);
    const gcm = params([Tag.BlockCipherMode, BlockCipherMode.GCM]);
    const e = await ok({ operation: Operation.Encrypt, payload: { uniqueIdentifier: k.uniqueIdentifier, cryptographicParameters: gcm, data: Buffer.from('hi') } }, V21);
    expect(e.authenticatedEncryptionTag).toHaveLength(16);
    const d = await ok({ operation: Operation.Decrypt, payload: {
      uniqueIdentifier: k.uniqueIdentifier, cryptographicParameters: gcm, data: e.data, ivCounterNonce: e.ivCounterNonce, authenticatedEncryptionTag: e.authenticatedEncryptionTag,
    } }, V21);
    expect(d.data).toEqual(Buffer.from('hi'));
    const old = await one({ operation: Operation.Encrypt, payload: { uniqueIdentifier: k.uniqueIdentifier, cryptographicParameters: gcm, data: Buffer.from('hi') } }, V12);
    expect([old.resultStatus, old.resultReason]).toEqual([ResultStatus.OperationFailed, ResultReason.FeatureNotSupported]);
    const stream = await one({ operation: Operation.Encrypt, payload: { uniqueIdentifier: k.uniqueIdentifier, data: Buffer.from('x'), initIndicator: true } }, V14);
    expect([stream.resultStatus, stream.resultReason]).toEqual([ResultStatus.OperationFailed, ResultReason.FeatureNotSupported]);
  });

  it('Query lists the operations each version defines, the cryptographic ones from 1.2', async () => {
    const ops = async (v: ProtocolVersion) => (await ok({ operation: Operation.Query, payload: { queryFunctions: [QueryFunction.QueryOperations] } }, v)).operations as number[];
    const v10 = await ops(V10);
    expect(v10).toEqual(expect.arrayContaining([Operation.CreateKeyPair, Operation.DeriveKey, Operation.Register, Operation.Get]));
    expect(v10).not.toContain(Operation.Encrypt);
    expect(await ops(V12)).toEqual(expect.arrayContaining([Operation.Encrypt, Operation.Decrypt, Operation.Sign, Operation.SignatureVerify, Operation.MAC, Operation.MACVerify, Operation.RNGRetrieve]));
  });
});
