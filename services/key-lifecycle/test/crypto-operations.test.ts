// Cryptographic operations with server-held keys through the KeyLifecycle
// API (real Redis, crk-wrapping, the Key Protect emulator): Encrypt, Decrypt,
// Sign, Signature Verify, MAC, MAC Verify, RNG Retrieve, Get with a Key
// Wrapping Specification and Register of wrapped material, Derive Key; the
// state and usage-mask rules (only Active keys protect; Deactivated and
// Compromised keys still process), and refusals that leave nothing behind.
import { constants, createDecipheriv, createHmac, createPublicKey, pbkdf2Sync, publicEncrypt, verify } from 'crypto';
import {
  BlockCipherMode as M, CryptographicAlgorithm as A, CryptographicUsageMask as U, DerivationMethod as DM, HashingAlgorithm as H, KeyFormatType as F,
  LinkType, ObjectType, PaddingMethod as P, ResultReason, RevocationReasonCode, State, Tag, ValidityIndicator,
} from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import { failure, startStack, Stack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
let t: TenantHandle;
let other: TenantHandle;

beforeAll(async () => {
  s = await startStack();
  [t, other] = await Promise.all([s.addTenant(), s.addTenant()]);
});

afterAll(async () => {
  await s?.close();
});

type Attr = lifecycleV1.Attribute;
type Value = lifecycleV1.AttributeValue;
const attr = (name: string, value: Value): Attr => ({ name, index: 0, value });
const alg = (a: number) => attr('Cryptographic Algorithm', { enumeration: a });
const len = (n: number) => attr('Cryptographic Length', { integer: n });
const mask = (m: number) => attr('Cryptographic Usage Mask', { integer: m });
const params = (fields: Array<[number, Value]>): Value => ({ structure: { fields: fields.map(([tag, value]) => ({ tag, value })) } });
const gcm = params([[Tag.BlockCipherMode, { enumeration: M.GCM }]]);
const cbc = params([[Tag.BlockCipherMode, { enumeration: M.CBC }], [Tag.PaddingMethod, { enumeration: P.PKCS5 }]]);
const oaep256 = params([[Tag.PaddingMethod, { enumeration: P.OAEP }], [Tag.HashingAlgorithm, { enumeration: H.SHA256 }]]);
const pss = params([[Tag.PaddingMethod, { enumeration: P.PSS }], [Tag.HashingAlgorithm, { enumeration: H.SHA256 }]]);

const call = <T>(m: string, req: object, who: TenantHandle = t) => s.call<T>(m as never, { caller: who.caller, ...req });

async function symmetric(algorithm: number, bits: number, usage: number, active = true): Promise<string> {
  const { uniqueIdentifier: uid } = await call<lifecycleV1.CreateResponse>('create', { objectType: ObjectType.SymmetricKey, attributes: [alg(algorithm), len(bits), mask(usage)] });
  if (active) await call('activate', { uniqueIdentifier: uid });
  return uid;
}

async function keyBytes(uid: string): Promise<Buffer> {
  return Buffer.from((await call<lifecycleV1.GetResponse>('get', { uniqueIdentifier: uid, keyFormatType: 0 })).keyMaterial);
}

const encrypt = (uid: string, data: Buffer, p?: Value, extra: object = {}) =>
  call<lifecycleV1.EncryptResponse>('encrypt', { uniqueIdentifier: uid, cryptographicParameters: p, data, ...extra });
const decrypt = (uid: string, data: Buffer, p?: Value, extra: object = {}) =>
  call<lifecycleV1.DecryptResponse>('decrypt', { uniqueIdentifier: uid, cryptographicParameters: p, data, ...extra });

describe('Encrypt and Decrypt with an AES key', () => {
  let uid: string;
  beforeAll(async () => {
    uid = await symmetric(A.AES, 256, U.Encrypt | U.Decrypt);
  });

  it('AES-GCM: the server makes the nonce; node:crypto decrypts the result with the key Get returns', async () => {
    const data = Buffer.from('attack at dawn');
    const r = await encrypt(uid, data, gcm, { authenticatedEncryptionAdditionalData: Buffer.from('hdr') });
    expect(r.ivCounterNonce).toHaveLength(12);
    expect(r.authenticatedEncryptionTag).toHaveLength(16);
    const d = createDecipheriv('aes-256-gcm', await keyBytes(uid), r.ivCounterNonce);
    d.setAAD(Buffer.from('hdr'));
    d.setAuthTag(Buffer.from(r.authenticatedEncryptionTag));
    expect(Buffer.concat([d.update(r.data), d.final()])).toEqual(data);
    const back = await decrypt(uid, Buffer.from(r.data), gcm, { ivCounterNonce: r.ivCounterNonce, authenticatedEncryptionAdditionalData: Buffer.from('hdr'), authenticatedEncryptionTag: r.authenticatedEncryptionTag });
    expect(Buffer.from(back.data)).toEqual(data);
  });

  it('AES-CBC with PKCS#5 padding and the client\'s IV; the key\'s own Cryptographic Parameters when the request has none', async () => {
    const iv = Buffer.alloc(16, 3);
    const r = await encrypt(uid, Buffer.from('sixteen bytes!!!'), cbc, { ivCounterNonce: iv });
    expect(r.ivCounterNonce).toHaveLength(0);
    expect(r.data).toHaveLength(32);
    const withParams = await symmetric(A.AES, 128, U.Encrypt | U.Decrypt, false);
    await call('addAttribute', { uniqueIdentifier: withParams, attribute: attr('Cryptographic Parameters', cbc) });
    await call('activate', { uniqueIdentifier: withParams });
    const own = await encrypt(withParams, Buffer.from('x'), undefined, { ivCounterNonce: iv });
    const d = createDecipheriv('aes-128-cbc', await keyBytes(withParams), iv);
    expect(Buffer.concat([d.update(own.data), d.final()]).toString()).toBe('x');
  });

  it('a tampered ciphertext is a Cryptographic Failure', async () => {
    const r = await encrypt(uid, Buffer.from('data'), gcm);
    const bad = Buffer.from(r.data);
    bad[0] ^= 0xff;
    expect(await failure(decrypt(uid, bad, gcm, { ivCounterNonce: r.ivCounterNonce, authenticatedEncryptionTag: r.authenticatedEncryptionTag })))
      .toMatchObject({ reason: ResultReason.CryptographicFailure });
  });

  it('refuses oversized data, missing data and unsupported modes with clear errors', async () => {
    expect(await failure(encrypt(uid, Buffer.alloc(256 * 1024 + 1), gcm))).toMatchObject({ reason: ResultReason.InvalidField, message: expect.stringContaining('at most 262144 bytes') });
    expect(await failure(encrypt(uid, Buffer.alloc(0), gcm))).toMatchObject({ reason: ResultReason.InvalidField });
    expect(await failure(encrypt(uid, Buffer.from('x'), params([[Tag.BlockCipherMode, { enumeration: M.XTS }]])))).toMatchObject({ reason: ResultReason.UnsupportedCryptographicParameters });
    expect(await failure(encrypt(uid, Buffer.from('x')))).toMatchObject({ reason: ResultReason.BadCryptographicParameters });
  });
});

describe('state and usage rules', () => {
  it('a Pre-Active key does nothing; an Active one protects; Deactivated and Compromised keys only process', async () => {
    const uid = await symmetric(A.AES, 128, U.Encrypt | U.Decrypt, false);
    expect(await failure(encrypt(uid, Buffer.from('x'), gcm))).toMatchObject({ reason: ResultReason.WrongKeyLifecycleState, message: expect.stringContaining('Pre-Active') });
    await call('activate', { uniqueIdentifier: uid });
    const r = await encrypt(uid, Buffer.from('x'), gcm);
    const again = () => decrypt(uid, Buffer.from(r.data), gcm, { ivCounterNonce: r.ivCounterNonce, authenticatedEncryptionTag: r.authenticatedEncryptionTag });
    await call('revoke', { uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.CessationOfOperation });
    expect(await failure(encrypt(uid, Buffer.from('x'), gcm))).toMatchObject({ reason: ResultReason.WrongKeyLifecycleState, message: expect.stringContaining('Deactivated') });
    expect(Buffer.from((await again()).data).toString()).toBe('x');
    await call('revoke', { uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise });
    expect(Buffer.from((await again()).data).toString()).toBe('x');
    await call('destroy', { uniqueIdentifier: uid });
    expect(await failure(again())).toMatchObject({ reason: ResultReason.ObjectDestroyed });
  });

  it('a usage mask without the operation\'s bit refuses it (Incompatible Cryptographic Usage Mask)', async () => {
    const uid = await symmetric(A.AES, 128, U.Decrypt);
    expect(await failure(encrypt(uid, Buffer.from('x'), gcm))).toMatchObject({ reason: ResultReason.IncompatibleCryptographicUsageMask });
  });

  it('a key of the wrong type is refused (Illegal Object Type), another tenant\'s key is not found', async () => {
    const hmacKey = await symmetric(A.HMACSHA256, 256, U.MACGenerate);
    expect(await failure(call('sign', { uniqueIdentifier: hmacKey, data: Buffer.from('x') }))).toMatchObject({ reason: ResultReason.IllegalObjectType });
    expect(await failure(call('mac', { uniqueIdentifier: hmacKey, data: Buffer.from('x') }, other))).toMatchObject({ reason: ResultReason.ItemNotFound });
  });

  it('an HMAC key shorter than 128 bits is refused by name before the provider is asked', async () => {
    expect(await failure(symmetric(A.HMACSHA256, 64, U.MACGenerate, false))).toMatchObject({ reason: ResultReason.InvalidField, message: 'HMAC keys are 128 to 4096 bits, not 64' });
  });
});

describe('key pairs', () => {
  let pair: lifecycleV1.CreateKeyPairResponse;
  let pub: Buffer;
  beforeAll(async () => {
    pair = await call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', {
      commonAttributes: [alg(A.RSA), len(2048)], privateKeyAttributes: [mask(U.Sign | U.Decrypt | U.UnwrapKey)], publicKeyAttributes: [mask(U.Verify | U.Encrypt | U.WrapKey)],
    });
    await call('activate', { uniqueIdentifier: pair.privateKeyUniqueIdentifier });
    await call('activate', { uniqueIdentifier: pair.publicKeyUniqueIdentifier });
    pub = Buffer.from((await call<lifecycleV1.GetResponse>('get', { uniqueIdentifier: pair.publicKeyUniqueIdentifier, keyFormatType: F.X509 })).keyMaterial);
  });

  it('RSA-OAEP: what the public key encrypts, node:crypto cannot read without the private key, and Decrypt gives back', async () => {
    const c = await encrypt(pair.publicKeyUniqueIdentifier, Buffer.from('secret'), oaep256);
    expect(Buffer.from((await decrypt(pair.privateKeyUniqueIdentifier, Buffer.from(c.data), oaep256)).data).toString()).toBe('secret');
    // And what node:crypto encrypts to the public key decrypts too.
    const mine = publicEncrypt({ key: createPublicKey({ key: pub, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('mine'));
    expect(Buffer.from((await decrypt(pair.privateKeyUniqueIdentifier, mine, oaep256)).data).toString()).toBe('mine');
  });

  it('RSA-PSS: node:crypto verifies the signature; Signature Verify says Valid, and Invalid for other data', async () => {
    const data = Buffer.from('signed statement');
    const sig = Buffer.from((await call<lifecycleV1.SignResponse>('sign', { uniqueIdentifier: pair.privateKeyUniqueIdentifier, cryptographicParameters: pss, data })).signatureData);
    expect(verify('sha256', data, { key: createPublicKey({ key: pub, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)).toBe(true);
    const v = (d: Buffer) => call<lifecycleV1.SignatureVerifyResponse>('signatureVerify', { uniqueIdentifier: pair.publicKeyUniqueIdentifier, cryptographicParameters: pss, data: d, signatureData: sig });
    expect((await v(data)).validityIndicator).toBe(ValidityIndicator.Valid);
    expect((await v(Buffer.from('forged'))).validityIndicator).toBe(ValidityIndicator.Invalid);
  });

  it('a public key cannot sign and a private key cannot verify', async () => {
    expect(await failure(call('sign', { uniqueIdentifier: pair.publicKeyUniqueIdentifier, cryptographicParameters: pss, data: Buffer.from('x') }))).toMatchObject({ reason: ResultReason.IllegalObjectType });
    expect(await failure(call('signatureVerify', { uniqueIdentifier: pair.privateKeyUniqueIdentifier, data: Buffer.from('x'), signatureData: Buffer.from('y') }))).toMatchObject({ reason: ResultReason.IllegalObjectType });
  });
});

test('an EC pair whose masks allow Encrypt and Decrypt still cannot encrypt: Bad Cryptographic Parameters, whatever the data', async () => {
  const ec = await call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', {
    commonAttributes: [alg(A.EC), len(384)], privateKeyAttributes: [mask(U.Sign | U.Decrypt)], publicKeyAttributes: [mask(U.Verify | U.Encrypt)],
  });
  await call('activate', { uniqueIdentifier: ec.privateKeyUniqueIdentifier });
  await call('activate', { uniqueIdentifier: ec.publicKeyUniqueIdentifier });
  const sha1 = params([[Tag.PaddingMethod, { enumeration: P.OAEP }], [Tag.HashingAlgorithm, { enumeration: H.SHA1 }]]);
  for (const data of [Buffer.from('abc'), Buffer.alloc(200)]) {
    const refused = await failure(encrypt(ec.publicKeyUniqueIdentifier, data, sha1));
    expect(refused).toMatchObject({ reason: ResultReason.BadCryptographicParameters, message: expect.stringMatching(/ec keys cannot encrypt or decrypt here/) });
  }
  expect(await failure(decrypt(ec.privateKeyUniqueIdentifier, Buffer.alloc(48), sha1))).toMatchObject({ reason: ResultReason.BadCryptographicParameters });
});

describe('MAC and MAC Verify', () => {
  it('HMAC-SHA-512 equals node:crypto\'s with the key Get returns; a wrong MAC is Invalid', async () => {
    const uid = await symmetric(A.HMACSHA512, 512, U.MACGenerate | U.MACVerify);
    const data = Buffer.from('message');
    const r = await call<lifecycleV1.MacResponse>('mac', { uniqueIdentifier: uid, data });
    expect(Buffer.from(r.macData)).toEqual(createHmac('sha512', await keyBytes(uid)).update(data).digest());
    const v = (m: Buffer) => call<lifecycleV1.MacVerifyResponse>('macVerify', { uniqueIdentifier: uid, data, macData: m });
    expect((await v(Buffer.from(r.macData))).validityIndicator).toBe(ValidityIndicator.Valid);
    expect((await v(Buffer.alloc(64))).validityIndicator).toBe(ValidityIndicator.Invalid);
  });
});

describe('RNG Retrieve', () => {
  it('returns the bytes asked for, different each time, within bounds', async () => {
    const a = await call<lifecycleV1.RngRetrieveResponse>('rngRetrieve', { dataLength: 32 });
    const b = await call<lifecycleV1.RngRetrieveResponse>('rngRetrieve', { dataLength: 32 });
    expect(a.data).toHaveLength(32);
    expect(Buffer.from(a.data)).not.toEqual(Buffer.from(b.data));
    expect(await failure(call('rngRetrieve', { dataLength: 0 }))).toMatchObject({ reason: ResultReason.InvalidField });
    expect(await failure(call('rngRetrieve', { dataLength: 1 << 20 }))).toMatchObject({ reason: ResultReason.InvalidField });
  });
});

describe('key wrapping', () => {
  const kwp = params([[Tag.BlockCipherMode, { enumeration: M.AESKeyWrapPadding }]]);
  const kw = params([[Tag.BlockCipherMode, { enumeration: M.NISTKeyWrap }]]);
  const spec = (uid: string, p: Value, encodingOption = 1): lifecycleV1.KeyWrapping => ({
    wrappingMethod: 1, encryptionKeyUniqueIdentifier: uid, cryptographicParameters: p, encodingOption, macSignatureKeyUniqueIdentifier: '', ivCounterNonce: Buffer.alloc(0),
  });
  const getWrapped = (uid: string, w: lifecycleV1.KeyWrapping, keyFormatType = 0) => call<lifecycleV1.GetResponse>('get', { uniqueIdentifier: uid, keyFormatType, keyWrappingSpecification: w });

  let kek: string;
  let target: string;
  beforeAll(async () => {
    kek = await symmetric(A.AES, 256, U.WrapKey | U.UnwrapKey);
    target = await symmetric(A.AES, 128, U.Encrypt | U.Decrypt, false);
  });

  it('Get wraps with AES Key Wrap (No Encoding): unwrapping with the KEK\'s bytes gives the key', async () => {
    const r = await getWrapped(target, spec(kek, kw));
    expect(r.keyWrappingData).toMatchObject({ wrappingMethod: 1, encryptionKeyUniqueIdentifier: kek, encodingOption: 1 });
    const d = createDecipheriv('id-aes256-wrap', await keyBytes(kek), Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
    expect(Buffer.concat([d.update(r.keyMaterial), d.final()])).toEqual(await keyBytes(target));
  });

  it('Register of wrapped material (AES Key Wrap Padding, TTLV Encoding) stores the unwrapped key', async () => {
    const wrapped = await getWrapped(target, spec(kek, kwp, 2));
    expect(wrapped.keyWrappingData?.encodingOption).toBe(2);
    const { uniqueIdentifier: copy } = await call<lifecycleV1.RegisterResponse>('register', {
      objectType: ObjectType.SymmetricKey, keyFormatType: F.Raw, keyMaterial: wrapped.keyMaterial, secretDataType: 0, attributes: [alg(A.AES)],
      keyWrappingData: spec(kek, kwp, 2),
    });
    expect(await keyBytes(copy)).toEqual(await keyBytes(target));
  });

  it('wraps a private key (PKCS#8, TTLV Encoding) and registers it back', async () => {
    const pair = await call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', { commonAttributes: [alg(A.EC), len(256)], privateKeyAttributes: [], publicKeyAttributes: [] });
    const w = await getWrapped(pair.privateKeyUniqueIdentifier, spec(kek, kwp, 2), F.PKCS8);
    const { uniqueIdentifier: copy } = await call<lifecycleV1.RegisterResponse>('register', {
      objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: w.keyMaterial, secretDataType: 0, attributes: [], keyWrappingData: spec(kek, kwp, 2),
    });
    const a = (await call<lifecycleV1.GetResponse>('get', { uniqueIdentifier: copy, keyFormatType: F.PKCS8 })).keyMaterial;
    const b = (await call<lifecycleV1.GetResponse>('get', { uniqueIdentifier: pair.privateKeyUniqueIdentifier, keyFormatType: F.PKCS8 })).keyMaterial;
    expect(Buffer.from(a)).toEqual(Buffer.from(b));
  });

  it('RSA-OAEP wraps a symmetric key with a public key; the private key unwraps it on Register', async () => {
    const pair = await call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', {
      commonAttributes: [alg(A.RSA), len(2048)], privateKeyAttributes: [mask(U.UnwrapKey)], publicKeyAttributes: [mask(U.WrapKey)],
    });
    await call('activate', { uniqueIdentifier: pair.publicKeyUniqueIdentifier });
    await call('activate', { uniqueIdentifier: pair.privateKeyUniqueIdentifier });
    const w = await getWrapped(target, spec(pair.publicKeyUniqueIdentifier, oaep256));
    const { uniqueIdentifier: copy } = await call<lifecycleV1.RegisterResponse>('register', {
      objectType: ObjectType.SymmetricKey, keyFormatType: F.Raw, keyMaterial: w.keyMaterial, secretDataType: 0, attributes: [alg(A.AES)],
      keyWrappingData: spec(pair.privateKeyUniqueIdentifier, oaep256),
    });
    expect(await keyBytes(copy)).toEqual(await keyBytes(target));
  });

  it('refuses a wrapping key that may not wrap, is not Active, is missing, destroyed or the key itself; nothing is registered from a bad wrapping', async () => {
    const noWrap = await symmetric(A.AES, 256, U.Encrypt);
    expect(await failure(getWrapped(target, spec(noWrap, kw)))).toMatchObject({ reason: ResultReason.IncompatibleCryptographicUsageMask });
    const preActive = await symmetric(A.AES, 256, U.WrapKey, false);
    expect(await failure(getWrapped(target, spec(preActive, kw)))).toMatchObject({ reason: ResultReason.WrongKeyLifecycleState });
    expect(await failure(getWrapped(target, spec('00000000-0000-0000-0000-000000000000', kw)))).toMatchObject({ reason: ResultReason.WrappingObjectNotFound });
    const gone = await symmetric(A.AES, 256, U.WrapKey, false);
    await call('destroy', { uniqueIdentifier: gone });
    expect(await failure(getWrapped(target, spec(gone, kw)))).toMatchObject({ reason: ResultReason.WrappingObjectDestroyed });
    expect(await failure(getWrapped(kek, spec(kek, kw)))).toMatchObject({ reason: ResultReason.InvalidField });
    const hmacKey = await symmetric(A.HMACSHA256, 256, U.WrapKey);
    expect(await failure(getWrapped(target, spec(hmacKey, kw)))).toMatchObject({ reason: ResultReason.BadCryptographicParameters });
    const before = (await call<lifecycleV1.LocateResponse>('locate', {})).locatedItems;
    expect(await failure(call('register', {
      objectType: ObjectType.SymmetricKey, keyFormatType: F.Raw, keyMaterial: Buffer.alloc(24, 7), secretDataType: 0, attributes: [alg(A.AES)], keyWrappingData: spec(kek, kw),
    }))).toMatchObject({ reason: ResultReason.CryptographicFailure });
    expect((await call<lifecycleV1.LocateResponse>('locate', {})).locatedItems).toBe(before);
  });
});

describe('Derive Key', () => {
  it('PBKDF2 from a Secret Data password equals node:crypto\'s, and links the two objects', async () => {
    const { uniqueIdentifier: pw } = await call<lifecycleV1.RegisterResponse>('register', {
      objectType: ObjectType.SecretData, keyFormatType: F.Opaque, secretDataType: 1, keyMaterial: Buffer.from('correct horse'), attributes: [mask(U.DeriveKey)],
    });
    await call('activate', { uniqueIdentifier: pw });
    const { uniqueIdentifier: uid } = await call<lifecycleV1.DeriveKeyResponse>('deriveKey', {
      objectType: ObjectType.SymmetricKey, uniqueIdentifiers: [pw], derivationMethod: DM.PBKDF2,
      cryptographicParameters: params([[Tag.HashingAlgorithm, { enumeration: H.SHA256 }]]), salt: Buffer.from('NaCl'), iterationCount: 1000,
      initializationVector: Buffer.alloc(0), derivationData: Buffer.alloc(0), attributes: [alg(A.AES), len(256)],
    });
    expect(await keyBytes(uid)).toEqual(pbkdf2Sync('correct horse', 'NaCl', 1000, 32, 'sha256'));
    const links = async (u: string) => (await call<lifecycleV1.GetAttributesResponse>('getAttributes', { uniqueIdentifier: u, attributeNames: ['Link'] })).attributes
      .map((a) => a.value?.structure?.fields.map((f) => f.value?.enumeration ?? f.value?.textString));
    expect(await links(uid)).toEqual([[LinkType.DerivationBaseObjectLink, pw]]);
    expect(await links(pw)).toEqual([[LinkType.DerivedKeyLink, uid]]);
    const st = (await call<lifecycleV1.GetAttributesResponse>('getAttributes', { uniqueIdentifier: uid, attributeNames: ['State'] })).attributes[0].value?.enumeration;
    expect(st).toBe(State.PreActive);
  });

  it('refuses a base object without Derive Key, an unsupported method, and a missing length', async () => {
    const base = await symmetric(A.AES, 256, U.Encrypt);
    const req = (uid: string, method: number, attributes: Attr[]) => call('deriveKey', {
      objectType: ObjectType.SymmetricKey, uniqueIdentifiers: [uid], derivationMethod: method, cryptographicParameters: params([[Tag.HashingAlgorithm, { enumeration: H.SHA256 }]]),
      salt: Buffer.from('s'), iterationCount: 1, initializationVector: Buffer.alloc(0), derivationData: Buffer.from('label'), attributes,
    });
    expect(await failure(req(base, DM.NIST800108C, [alg(A.AES), len(128)]))).toMatchObject({ reason: ResultReason.IncompatibleCryptographicUsageMask });
    const ok = await symmetric(A.HMACSHA256, 256, U.DeriveKey);
    expect(await failure(req(ok, DM.ENCRYPT, [alg(A.AES), len(128)]))).toMatchObject({ reason: ResultReason.UnsupportedCryptographicParameters });
    expect(await failure(req(ok, DM.NIST800108C, [alg(A.AES)]))).toMatchObject({ reason: ResultReason.InvalidField });
    const made = await call<lifecycleV1.DeriveKeyResponse>('deriveKey', {
      objectType: ObjectType.SymmetricKey, uniqueIdentifiers: [ok], derivationMethod: DM.NIST800108C, cryptographicParameters: params([[Tag.HashingAlgorithm, { enumeration: H.SHA256 }]]),
      salt: Buffer.alloc(0), iterationCount: 0, initializationVector: Buffer.alloc(0), derivationData: Buffer.from('label'), attributes: [alg(A.AES), len(128)],
    });
    const k = await keyBytes(ok);
    expect(await keyBytes(made.uniqueIdentifier)).toEqual(createHmac('sha256', k).update(Buffer.from([0, 0, 0, 1])).update('label').digest().subarray(0, 16));
  });
});

it('ECDSA P-256: a signature node:crypto verifies (DER), by default with SHA-256', async () => {
  const pair = await call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', { commonAttributes: [alg(A.ECDSA), len(256)], privateKeyAttributes: [], publicKeyAttributes: [] });
  await call('activate', { uniqueIdentifier: pair.privateKeyUniqueIdentifier });
  const data = Buffer.from('ec data');
  const sig = Buffer.from((await call<lifecycleV1.SignResponse>('sign', { uniqueIdentifier: pair.privateKeyUniqueIdentifier, data })).signatureData);
  const pub = (await call<lifecycleV1.GetResponse>('get', { uniqueIdentifier: pair.publicKeyUniqueIdentifier, keyFormatType: F.X509 })).keyMaterial;
  expect(verify('sha256', data, createPublicKey({ key: Buffer.from(pub), format: 'der', type: 'spki' }), sig)).toBe(true);
  // The public key is Pre-Active: it verifies nothing yet.
  expect(await failure(call('signatureVerify', { uniqueIdentifier: pair.publicKeyUniqueIdentifier, data, signatureData: sig }))).toMatchObject({ reason: ResultReason.WrongKeyLifecycleState });
});
