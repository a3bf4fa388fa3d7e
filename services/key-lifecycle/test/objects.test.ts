// Objects beyond symmetric keys through the KeyLifecycle API, end to end
// (real Redis, crk-wrapping, the Key Protect emulator over HTTP): Create Key
// Pair (RSA, EC) with Links between the halves, Get in every format the
// profiles name, Register of keys, certificates and opaque objects, Locate
// and Get Attributes by the new attributes, and what is stored where: the
// private half and opaque values sealed in the provider, public material in
// the record, nothing secret in Redis.
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, X509Certificate } from 'crypto';
import Redis from 'ioredis';
import { createCa, grpc, issueCertificate } from '@keywarden/common';
import {
  CertificateType, CryptographicAlgorithm as A, CryptographicUsageMask as U, KeyFormatType as F, LinkType, ObjectType, RecommendedCurve, ResultReason, Tag,
} from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import { failure, startStack, Stack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
let t: TenantHandle;
let redis: Redis;

beforeAll(async () => {
  s = await startStack();
  t = await s.addTenant();
  redis = new Redis(s.redis.url);
});

afterAll(async () => {
  redis?.disconnect();
  await s?.close();
});

type Attr = lifecycleV1.Attribute;
const attr = (name: string, value: lifecycleV1.AttributeValue): Attr => ({ name, index: 0, value });
const alg = (a: number) => attr('Cryptographic Algorithm', { enumeration: a });
const len = (n: number) => attr('Cryptographic Length', { integer: n });
const name = (v: string) => attr('Name', { structure: { fields: [{ tag: Tag.NameValue, value: { textString: v } }, { tag: Tag.NameType, value: { enumeration: 1 } }] } });

const pair = (common: Attr[], priv: Attr[] = [], pub: Attr[] = []) =>
  s.call<lifecycleV1.CreateKeyPairResponse>('createKeyPair', { caller: t.caller, commonAttributes: common, privateKeyAttributes: priv, publicKeyAttributes: pub });
const get = (uid: string, keyFormatType = 0) => s.call<lifecycleV1.GetResponse>('get', { caller: t.caller, uniqueIdentifier: uid, keyFormatType });
const attrs = async (uid: string, names: string[] = []) =>
  (await s.call<lifecycleV1.GetAttributesResponse>('getAttributes', { caller: t.caller, uniqueIdentifier: uid, attributeNames: names })).attributes;
const register = (req: Partial<lifecycleV1.RegisterRequest>) =>
  s.call<lifecycleV1.RegisterResponse>('register', { caller: t.caller, attributes: [], keyMaterial: Buffer.alloc(0), keyFormatType: 0, secretDataType: 0, ...req });
const locate = (attributes: Attr[]) => s.call<lifecycleV1.LocateResponse>('locate', { caller: t.caller, attributes });

function linkOf(a: Attr[]): Array<[number | undefined, string | undefined]> {
  return a.filter((x) => x.name === 'Link').map((x) => {
    const f = x.value?.structure?.fields ?? [];
    return [f.find((y) => y.tag === Tag.LinkType)?.value?.enumeration, f.find((y) => y.tag === Tag.LinkedObjectIdentifier)?.value?.textString];
  });
}

/** The record's Redis hash, every field. */
const stored = (uid: string) => redis.hgetall(`kw:t:${t.id}:obj:${uid}`);

describe('Create Key Pair', () => {
  let rsa: lifecycleV1.CreateKeyPairResponse;

  beforeAll(async () => {
    rsa = await pair([alg(A.RSA), len(2048)], [name('rsa-priv')], [name('rsa-pub')]);
  });

  it('makes an RSA-2048 pair whose halves belong together and link to each other', async () => {
    const priv = await get(rsa.privateKeyUniqueIdentifier);
    const pub = await get(rsa.publicKeyUniqueIdentifier);
    expect(priv).toMatchObject({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS1, cryptographicAlgorithm: A.RSA, cryptographicLength: 2048 });
    expect(pub).toMatchObject({ objectType: ObjectType.PublicKey, keyFormatType: F.PKCS1, cryptographicAlgorithm: A.RSA, cryptographicLength: 2048 });
    const privKey = createPrivateKey({ key: Buffer.from(priv.keyMaterial), format: 'der', type: 'pkcs1' });
    const pubKey = createPublicKey({ key: Buffer.from(pub.keyMaterial), format: 'der', type: 'pkcs1' });
    expect(createPublicKey(privKey).export({ format: 'der', type: 'spki' })).toEqual(pubKey.export({ format: 'der', type: 'spki' }));
    expect(linkOf(await attrs(rsa.privateKeyUniqueIdentifier, ['Link']))).toEqual([[LinkType.PublicKeyLink, rsa.publicKeyUniqueIdentifier]]);
    expect(linkOf(await attrs(rsa.publicKeyUniqueIdentifier, ['Link']))).toEqual([[LinkType.PrivateKeyLink, rsa.privateKeyUniqueIdentifier]]);
  });

  it('gives each half its default usage and its own Name', async () => {
    const m = async (uid: string) => (await attrs(uid, ['Cryptographic Usage Mask']))[0]?.value?.integer;
    expect(await m(rsa.privateKeyUniqueIdentifier)).toBe(U.Sign | U.Decrypt);
    expect(await m(rsa.publicKeyUniqueIdentifier)).toBe(U.Verify | U.Encrypt);
    expect((await locate([name('rsa-pub')])).uniqueIdentifiers).toEqual([rsa.publicKeyUniqueIdentifier]);
  });

  it('seals the private half in the provider and keeps only the public half in Redis', async () => {
    const h = await stored(rsa.privateKeyUniqueIdentifier);
    expect(h.pub).toBeUndefined();
    const der = createPrivateKey({ key: Buffer.from((await get(rsa.privateKeyUniqueIdentifier, F.PKCS8)).keyMaterial), format: 'der', type: 'pkcs8' })
      .export({ format: 'der', type: 'pkcs8' });
    const everything = JSON.stringify(await stored(rsa.privateKeyUniqueIdentifier)) + JSON.stringify(await stored(rsa.publicKeyUniqueIdentifier));
    // No part of the private key (its DER, in any encoding) is in either record.
    for (const enc of ['base64', 'hex', 'base64url'] as const) expect(everything).not.toContain(der.subarray(40, 72).toString(enc));
    const pubHash = await stored(rsa.publicKeyUniqueIdentifier);
    expect(Buffer.from(pubHash.pub, 'base64')).toEqual(createPublicKey({ key: Buffer.from((await get(rsa.publicKeyUniqueIdentifier)).keyMaterial), format: 'der', type: 'pkcs1' }).export({ format: 'der', type: 'spki' }));
  });

  it('returns the private key as PKCS#1, PKCS#8 and Transparent RSA Private Key, the public one as PKCS#1, X.509 and Transparent RSA Public Key', async () => {
    const p8 = createPrivateKey({ key: Buffer.from((await get(rsa.privateKeyUniqueIdentifier, F.PKCS8)).keyMaterial), format: 'der', type: 'pkcs8' });
    const jwk = p8.export({ format: 'jwk' });
    const tr = await get(rsa.privateKeyUniqueIdentifier, F.TransparentRSAPrivateKey);
    expect(tr.keyMaterial).toHaveLength(0);
    const field = (r: lifecycleV1.GetResponse, tag: number) => {
      const b = Buffer.from(r.transparentMaterial?.fields.find((f) => f.tag === tag)?.value?.bigInteger ?? []);
      return b[0] === 0 ? b.subarray(1) : b;
    };
    expect(field(tr, Tag.Modulus).toString('base64url')).toBe(jwk.n);
    expect(field(tr, Tag.PrivateExponent).toString('base64url')).toBe(jwk.d);
    expect(field(tr, Tag.CRTCoefficient).toString('base64url')).toBe(jwk.qi);
    const x509 = await get(rsa.publicKeyUniqueIdentifier, F.X509);
    expect(createPublicKey({ key: Buffer.from(x509.keyMaterial), format: 'der', type: 'spki' }).export({ format: 'jwk' }).n).toBe(jwk.n);
    const tp = await get(rsa.publicKeyUniqueIdentifier, F.TransparentRSAPublicKey);
    expect(field(tp, Tag.Modulus).toString('base64url')).toBe(jwk.n);
    expect(field(tp, Tag.PublicExponent).toString('base64url')).toBe(jwk.e);
    // A private key never comes as a public key's format, nor the other way.
    expect(await failure(get(rsa.privateKeyUniqueIdentifier, F.X509))).toMatchObject({ reason: ResultReason.KeyFormatTypeNotSupported });
    expect(await failure(get(rsa.publicKeyUniqueIdentifier, F.PKCS8))).toMatchObject({ reason: ResultReason.KeyFormatTypeNotSupported });
  });

  it.each([[256, 'P-256', RecommendedCurve.P256], [384, 'P-384', RecommendedCurve.P384]])('makes an EC pair on the curve of length %i', async (bits, curve, rc) => {
    const r = await pair([alg(A.ECDSA), len(bits)], [name(`ec${bits}-priv`)], [name(`ec${bits}-pub`)]);
    const priv = await get(r.privateKeyUniqueIdentifier);
    expect(priv).toMatchObject({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, cryptographicAlgorithm: A.ECDSA, cryptographicLength: bits });
    const k = createPrivateKey({ key: Buffer.from(priv.keyMaterial), format: 'der', type: 'pkcs8' });
    expect(k.asymmetricKeyDetails?.namedCurve).toBe(curve === 'P-256' ? 'prime256v1' : 'secp384r1');
    const sec1 = await get(r.privateKeyUniqueIdentifier, F.ECPrivateKey);
    expect(createPrivateKey({ key: Buffer.from(sec1.keyMaterial), format: 'der', type: 'sec1' }).export({ format: 'jwk' }).d).toBe(k.export({ format: 'jwk' }).d);
    const tq = await get(r.publicKeyUniqueIdentifier, F.TransparentECPublicKey);
    const f = (tag: number) => tq.transparentMaterial?.fields.find((x) => x.tag === tag)?.value;
    expect(f(Tag.RecommendedCurve)?.enumeration).toBe(rc);
    expect(Buffer.from(f(Tag.QString)?.byteString ?? [])).toHaveLength(1 + 2 * (bits / 8));
    expect((await attrs(r.privateKeyUniqueIdentifier, ['Cryptographic Usage Mask']))[0].value?.integer).toBe(U.Sign);
  });

  it.each([
    ['RSA of 1024 bits', [alg(A.RSA), len(1024)]],
    ['an EC length with no curve', [alg(A.EC), len(521)]],
    ['an algorithm without pairs', [alg(A.AES), len(256)]],
    ['no algorithm', [len(2048)]],
    ['a Name in the common attributes', [alg(A.RSA), len(2048), name('both')]],
  ])('refuses %s with Invalid Field and stores nothing', async (_what, common) => {
    const before = (await locate([])).locatedItems;
    expect(await failure(pair(common as Attr[]))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: ResultReason.InvalidField });
    expect((await locate([])).locatedItems).toBe(before);
  });

  it('refuses halves of different algorithms', async () => {
    expect(await failure(pair([len(2048)], [alg(A.RSA)], [alg(A.ECDSA)]))).toMatchObject({ reason: ResultReason.InvalidField });
  });

  it('finds the halves by Object Type, algorithm and Link', async () => {
    expect((await locate([attr('Object Type', { enumeration: ObjectType.PublicKey }), alg(A.RSA)])).uniqueIdentifiers).toContain(rsa.publicKeyUniqueIdentifier);
    const byLink = await locate([attr('Link', { structure: { fields: [{ tag: Tag.LinkedObjectIdentifier, value: { textString: rsa.publicKeyUniqueIdentifier } }] } })]);
    expect(byLink.uniqueIdentifiers).toEqual([rsa.privateKeyUniqueIdentifier]);
  });
});

describe('Register', () => {
  it('takes an RSA private key in PKCS#8, stores it sealed and gives it back in PKCS#1', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const { uniqueIdentifier: uid } = await register({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: privateKey.export({ format: 'der', type: 'pkcs8' }), attributes: [name('reg-rsa')] });
    expect(await get(uid)).toMatchObject({ keyFormatType: F.PKCS8, cryptographicAlgorithm: A.RSA, cryptographicLength: 3072 });
    expect(Buffer.from((await get(uid, F.PKCS1)).keyMaterial)).toEqual(privateKey.export({ format: 'der', type: 'pkcs1' }));
    expect((await stored(uid)).pub).toBeUndefined();
  });

  it('takes a Transparent EC Private Key and a Transparent RSA Public Key', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const jwk = ec.export({ format: 'jwk' });
    const { uniqueIdentifier: uid } = await register({
      objectType: ObjectType.PrivateKey, keyFormatType: F.TransparentECPrivateKey, attributes: [name('reg-ec')],
      transparentMaterial: { fields: [{ tag: Tag.RecommendedCurve, value: { enumeration: RecommendedCurve.P384 } }, { tag: Tag.D, value: { bigInteger: Buffer.concat([Buffer.alloc(1), Buffer.from(jwk.d as string, 'base64url')]) } }] },
    });
    const back = createPrivateKey({ key: Buffer.from((await get(uid, F.PKCS8)).keyMaterial), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    expect([back.d, back.x, back.y]).toEqual([jwk.d, jwk.x, jwk.y]);

    const rsaPub = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const big = (b64: string) => { const b = Buffer.from(b64, 'base64url'); return b[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b; };
    const { uniqueIdentifier: pub } = await register({
      objectType: ObjectType.PublicKey, keyFormatType: F.TransparentRSAPublicKey, attributes: [name('reg-rsa-pub')],
      transparentMaterial: { fields: [{ tag: Tag.Modulus, value: { bigInteger: big(rsaPub.n as string) } }, { tag: Tag.PublicExponent, value: { bigInteger: big(rsaPub.e as string) } }] },
    });
    expect(createPublicKey({ key: Buffer.from((await get(pub, F.X509)).keyMaterial), format: 'der', type: 'spki' }).export({ format: 'jwk' }).n).toBe(rsaPub.n);
    expect(Buffer.from((await stored(pub)).pub, 'base64')).toEqual(createPublicKey({ key: rsaPub, format: 'jwk' }).export({ format: 'der', type: 'spki' }));
  });

  it('takes an X.509 certificate: Certificate Type, Length, and the subject key\'s algorithm as attributes', async () => {
    const ca = createCa('objects test CA');
    const der = new X509Certificate(issueCertificate(ca, { commonName: 'objects-test', usage: 'client' }).cert).raw;
    const { uniqueIdentifier: uid } = await register({ objectType: ObjectType.Certificate, certificateType: CertificateType.X509, keyMaterial: der, attributes: [name('cert-1')] });
    expect(await get(uid)).toMatchObject({ objectType: ObjectType.Certificate, certificateType: CertificateType.X509, keyMaterial: der });
    const all = Object.fromEntries((await attrs(uid)).map((a) => [a.name, a.value]));
    expect(all['Certificate Type']).toEqual({ enumeration: CertificateType.X509 });
    expect(all['Certificate Length']).toEqual({ integer: der.length });
    expect(all['Object Type']).toEqual({ enumeration: ObjectType.Certificate });
    expect((await locate([attr('Certificate Type', { enumeration: CertificateType.X509 })])).uniqueIdentifiers).toEqual([uid]);
    expect(await failure(get(uid, F.PKCS1))).toMatchObject({ reason: ResultReason.KeyFormatTypeNotSupported });
    // Destroy takes the certificate itself out of Redis; its attributes stay.
    await s.call('destroy', { caller: t.caller, uniqueIdentifier: uid });
    expect((await stored(uid)).pub).toBeUndefined();
    expect(await failure(get(uid))).toMatchObject({ reason: ResultReason.ObjectDestroyed });
    expect((await attrs(uid, ['Certificate Type']))[0]?.value).toEqual({ enumeration: CertificateType.X509 });
  });

  it('takes an Opaque Object, sealed, and gives back the same bytes', async () => {
    const value = Buffer.from('an opaque value, not for Redis to read');
    const { uniqueIdentifier: uid } = await register({ objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, keyMaterial: value, attributes: [name('opaque-1')] });
    expect(await get(uid)).toMatchObject({ objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, keyMaterial: value });
    expect(JSON.stringify(await stored(uid))).not.toContain('opaque value');
    expect(JSON.stringify(await stored(uid))).not.toContain(value.toString('base64'));
  });

  const priv = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  it.each([
    ['a malformed PKCS#8 key', () => ({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: Buffer.from('30820102deadbeef', 'hex') }), ResultReason.InvalidField],
    ['a public key given as a private key', () => ({ objectType: ObjectType.PrivateKey, keyFormatType: F.X509, keyMaterial: createPublicKey(priv()).export({ format: 'der', type: 'spki' }) }), ResultReason.KeyFormatTypeNotSupported],
    ['an RSA key of 1024 bits', () => ({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'der', type: 'pkcs8' }) }), ResultReason.InvalidField],
    ['an EC key on an unsupported curve', () => ({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'der', type: 'pkcs8' }) }), ResultReason.InvalidField],
    ['an RSA key named EC', () => ({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: priv().export({ format: 'der', type: 'pkcs8' }), attributes: [alg(A.EC)] }), ResultReason.InvalidField],
    ['a length that does not match', () => ({ objectType: ObjectType.PrivateKey, keyFormatType: F.PKCS8, keyMaterial: priv().export({ format: 'der', type: 'pkcs8' }), attributes: [len(4096)] }), ResultReason.InvalidField],
    ['a malformed certificate', () => ({ objectType: ObjectType.Certificate, certificateType: CertificateType.X509, keyMaterial: Buffer.from('308201 not a certificate') }), ResultReason.InvalidField],
    ['a PGP certificate', () => ({ objectType: ObjectType.Certificate, certificateType: CertificateType.PGP, keyMaterial: Buffer.from('x') }), ResultReason.InvalidField],
    ['an opaque object over 4096 bytes', () => ({ objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, keyMaterial: Buffer.alloc(4097, 1) }), ResultReason.InvalidField],
    ['secret data over 4096 bytes', () => ({ objectType: ObjectType.SecretData, keyFormatType: F.Opaque, secretDataType: 1, keyMaterial: Buffer.alloc(4097, 1) }), ResultReason.InvalidField],
    ['a transparent key without its fields', () => ({ objectType: ObjectType.PublicKey, keyFormatType: F.TransparentRSAPublicKey, transparentMaterial: { fields: [{ tag: Tag.Modulus, value: { bigInteger: Buffer.from([1, 0, 1]) } }] } }), ResultReason.InvalidField],
  ])('refuses %s and stores nothing', async (_what, req, reason) => {
    const before = (await locate([])).locatedItems;
    expect(await failure(register(req() as Partial<lifecycleV1.RegisterRequest>))).toMatchObject({ reason });
    expect((await locate([])).locatedItems).toBe(before);
  });
});

it('names the size limit of secret data before the provider is asked', async () => {
  const r = await failure(register({ objectType: ObjectType.SecretData, keyFormatType: F.Opaque, secretDataType: 1, keyMaterial: Buffer.alloc(5000, 1) }));
  expect(r).toMatchObject({ reason: ResultReason.InvalidField, message: 'secret data is at most 4096 bytes (it is sealed by the tenant\'s root key), not 5000' });
});

describe('what the tenant pays for', () => {
  it('counts a public key\'s material in the attribute bytes, and a pair as two keys', async () => {
    const u = await s.addTenant();
    const usage = async () => (await s.adm<{ usage?: { objects: number; attributeBytes: number } }>('getTenant', { tenantId: u.id })).usage;
    const before = await usage();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = (publicKey as KeyObject).export({ format: 'der', type: 'spki' });
    await s.call('register', { caller: u.caller, objectType: ObjectType.PublicKey, keyFormatType: F.X509, keyMaterial: der, attributes: [] });
    const after = await usage();
    expect(Number(after?.objects) - Number(before?.objects ?? 0)).toBe(1);
    expect(Number(after?.attributeBytes) - Number(before?.attributeBytes ?? 0)).toBeGreaterThanOrEqual(der.toString('base64').length);
  });
});
