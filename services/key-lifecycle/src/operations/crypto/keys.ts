// Asymmetric keys and certificates in the formats KMIP names (KMIP 1.4
// §9.1.3.2.3 Key Format Type; the transparent structures of §2.1.7),
// converted with node:crypto. keywarden stores one form of each: a private
// key as PKCS#8 (sealed by the tenant's root key), a public key as its
// SubjectPublicKeyInfo, a certificate as its DER; any other format is made
// from those on Get. RSA keys of 2048 to 4096 bits and EC keys on P-256 and
// P-384 (KMIP 1.4 §5 Cryptographic profiles' key sizes and curves).
import { createECDH, createPrivateKey, createPublicKey, generateKeyPair, JsonWebKey, KeyObject, X509Certificate } from 'crypto';
import { promisify } from 'util';
import { grpc, ServiceError } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import { CryptographicAlgorithm as A, KeyFormatType as F, RecommendedCurve, ResultReason, Tag } from '@keywarden/kmip';
import { invalidField, keyFormatNotSupported } from '../../errors';
import { WorkGate } from '../../work-gate';

export type KeyKind = 'rsa' | 'ec';

/** What keywarden knows of an asymmetric key: its kind, its length in bits (RSA modulus, EC curve order) and its curve. */
export interface KeyShape {
  kind: KeyKind;
  length: number;
  curve?: Curve;
}

interface Curve {
  /** node's name (JWK crv). */
  jwk: 'P-256' | 'P-384';
  /** OpenSSL's name (createECDH). */
  openssl: 'prime256v1' | 'secp384r1';
  recommended: number;
  bits: number;
}

const CURVES: readonly Curve[] = [
  { jwk: 'P-256', openssl: 'prime256v1', recommended: RecommendedCurve.P256, bits: 256 },
  { jwk: 'P-384', openssl: 'secp384r1', recommended: RecommendedCurve.P384, bits: 384 },
];

export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 4096;

/** KMIP algorithms of each kind: RSA; ECDSA (1.0) and EC (1.2) name the same keys. */
export const RSA_ALGORITHMS: ReadonlySet<number> = new Set([A.RSA]);
export const EC_ALGORITHMS: ReadonlySet<number> = new Set([A.ECDSA, A.EC]);

export function kindOfAlgorithm(algorithm: number | undefined): KeyKind | undefined {
  if (algorithm === undefined) return undefined;
  if (RSA_ALGORITHMS.has(algorithm)) return 'rsa';
  if (EC_ALGORITHMS.has(algorithm)) return 'ec';
  return undefined;
}

export function curveOfLength(bits: number): Curve | undefined {
  return CURVES.find((c) => c.bits === bits);
}

function curveOfRecommended(v: number): Curve | undefined {
  return CURVES.find((c) => c.recommended === v);
}

/** The shape of a key node:crypto parsed, or an Invalid Field naming what is not supported. */
export function shapeOf(key: KeyObject): KeyShape {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) throw invalidField(`RSA keys of ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits are supported, not ${bits}`);
    return { kind: 'rsa', length: bits };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES.find((c) => c.openssl === d.namedCurve || c.jwk === d.namedCurve);
    if (!curve) throw invalidField(`EC keys on P-256 and P-384 are supported, not on ${d.namedCurve ?? 'an unnamed curve'}`);
    return { kind: 'ec', length: curve.bits, curve };
  }
  throw invalidField(`${key.asymmetricKeyType ?? 'this'} keys are not supported (RSA and EC are)`);
}

/** Key pairs generated at once: an RSA-4096 pair takes 0.2–2 s of one of libuv's 4 threads (password checks and other crypto share them). */
export const CONCURRENT_KEY_PAIRS = 1;
/** Key pairs waiting beyond that; any more are refused at once (Server Limit Exceeded: retry). */
export const WAITING_KEY_PAIRS = 16;

/** The process's gate for Create Key Pair (work-gate.ts). */
export const keyPairGate = new WorkGate(CONCURRENT_KEY_PAIRS, WAITING_KEY_PAIRS, () => new ServiceError(grpc.status.RESOURCE_EXHAUSTED,
  `${CONCURRENT_KEY_PAIRS + WAITING_KEY_PAIRS} key pairs are already being generated or waiting; retry in a moment`, ResultReason.ServerLimitExceeded));

/** Generates a key pair (Create Key Pair) off the event loop, through `gate`. */
export async function generatePair(kind: KeyKind, length: number, gate: WorkGate = keyPairGate): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const gen = promisify(generateKeyPair);
  if (kind === 'rsa') return gate.run(() => gen('rsa', { modulusLength: length, publicExponent: 0x10001 }));
  const curve = curveOfLength(length);
  if (!curve) throw invalidField(`EC key pairs are P-256 (length 256) or P-384 (384), not length ${length}`);
  return gate.run(() => gen('ec', { namedCurve: curve.jwk }));
}

// ---- formats each object type is given and returned in ----

/** Formats of a private key; the first is the default of a created one. */
export function privateFormats(kind: KeyKind): number[] {
  return kind === 'rsa' ? [F.PKCS1, F.PKCS8, F.TransparentRSAPrivateKey] : [F.PKCS8, F.ECPrivateKey, F.TransparentECPrivateKey];
}

/** Formats of a public key; the first is the default of a created one. */
export function publicFormats(kind: KeyKind): number[] {
  return kind === 'rsa' ? [F.PKCS1, F.X509, F.TransparentRSAPublicKey] : [F.X509, F.TransparentECPublicKey];
}

// ---- big integers of transparent structures ----

type Struct = lifecycleV1.Structure;
type Value = lifecycleV1.AttributeValue;

/** A Big Integer field (two's complement) as the unsigned big-endian bytes JWK wants. */
function unsigned(v: Value | undefined, what: string): Buffer {
  if (v?.bigInteger === undefined) throw invalidField(`the transparent key needs ${what} as a Big Integer`);
  const b = Buffer.from(v.bigInteger);
  if (b.length > 0 && b[0] & 0x80) throw invalidField(`${what} must not be negative`);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** Unsigned big-endian bytes as a Big Integer value (two's complement: a leading zero when the top bit is set). */
function bigInteger(b: Buffer): Value {
  return { bigInteger: b.length > 0 && b[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b } as Value;
}

function fieldOf(s: Struct, tag: number): Value | undefined {
  return s.fields.find((f) => f.tag === tag)?.value;
}

const b64u = (b: Buffer) => b.toString('base64url');
const fromB64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

const RSA_PRIVATE_FIELDS: Array<[number, keyof JsonWebKey, string]> = [
  [Tag.Modulus, 'n', 'Modulus'], [Tag.PrivateExponent, 'd', 'Private Exponent'], [Tag.PublicExponent, 'e', 'Public Exponent'],
  [Tag.P, 'p', 'P'], [Tag.Q, 'q', 'Q'], [Tag.PrimeExponentP, 'dp', 'Prime Exponent P'], [Tag.PrimeExponentQ, 'dq', 'Prime Exponent Q'],
  [Tag.CRTCoefficient, 'qi', 'CRT Coefficient'],
];

function transparentCurve(s: Struct): Curve {
  const rc = fieldOf(s, Tag.RecommendedCurve)?.enumeration;
  const curve = rc === undefined ? undefined : curveOfRecommended(rc);
  if (!curve) throw invalidField('the transparent EC key needs a Recommended Curve of P-256 or P-384');
  return curve;
}

/** An uncompressed EC point (0x04 | X | Y) as JWK coordinates. */
function pointToJwk(q: Buffer, curve: Curve): { x: string; y: string } {
  const n = curve.bits / 8;
  if (q.length !== 1 + 2 * n || q[0] !== 0x04) throw invalidField(`the EC public key must be an uncompressed point of ${1 + 2 * n} bytes`);
  return { x: b64u(q.subarray(1, 1 + n)), y: b64u(q.subarray(1 + n)) };
}

// ---- reading what a client gives ----

/** Runs a node:crypto parse; its failure is the client's malformed input. */
function parse<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch {
    throw invalidField(`the key material is not a valid ${what}`);
  }
}

/** A private key given in `format` (Register, or a key unwrapped for it). */
export function readPrivateKey(format: number, material: Buffer, transparent: Struct | undefined): KeyObject {
  switch (format) {
    case F.PKCS8: return parse('PKCS#8 private key', () => createPrivateKey({ key: material, format: 'der', type: 'pkcs8' }));
    case F.PKCS1: return parse('PKCS#1 RSA private key', () => createPrivateKey({ key: material, format: 'der', type: 'pkcs1' }));
    case F.ECPrivateKey: return parse('EC private key (SEC 1)', () => createPrivateKey({ key: material, format: 'der', type: 'sec1' }));
    case F.TransparentRSAPrivateKey: {
      const s = requireStruct(transparent);
      const jwk: JsonWebKey = { kty: 'RSA' };
      for (const [tag, k, what] of RSA_PRIVATE_FIELDS) (jwk as Record<string, string>)[k] = b64u(unsigned(fieldOf(s, tag), what));
      return parse('Transparent RSA Private Key', () => createPrivateKey({ key: jwk, format: 'jwk' }));
    }
    case F.TransparentECPrivateKey: {
      const s = requireStruct(transparent);
      const curve = transparentCurve(s);
      const d = unsigned(fieldOf(s, Tag.D), 'D');
      // JWK wants the public point as well: derived from D.
      const q = parse('Transparent EC Private Key', () => {
        const ecdh = createECDH(curve.openssl);
        ecdh.setPrivateKey(d);
        return ecdh.getPublicKey();
      });
      return parse('Transparent EC Private Key', () => createPrivateKey({ key: { kty: 'EC', crv: curve.jwk, d: b64u(d), ...pointToJwk(q, curve) }, format: 'jwk' }));
    }
    default: throw keyFormatNotSupported(`a private key is given as PKCS#1 (3), PKCS#8 (4), EC Private Key (6), Transparent RSA Private Key (10) or Transparent EC Private Key (20), not key format type ${format}`);
  }
}

/** A public key given in `format`. */
export function readPublicKey(format: number, material: Buffer, transparent: Struct | undefined): KeyObject {
  switch (format) {
    case F.X509: return parse('X.509 SubjectPublicKeyInfo', () => createPublicKey({ key: material, format: 'der', type: 'spki' }));
    case F.PKCS1: return parse('PKCS#1 RSA public key', () => createPublicKey({ key: material, format: 'der', type: 'pkcs1' }));
    case F.TransparentRSAPublicKey: {
      const s = requireStruct(transparent);
      const jwk: JsonWebKey = { kty: 'RSA', n: b64u(unsigned(fieldOf(s, Tag.Modulus), 'Modulus')), e: b64u(unsigned(fieldOf(s, Tag.PublicExponent), 'Public Exponent')) };
      return parse('Transparent RSA Public Key', () => createPublicKey({ key: jwk, format: 'jwk' }));
    }
    case F.TransparentECPublicKey: {
      const s = requireStruct(transparent);
      const curve = transparentCurve(s);
      const q = fieldOf(s, Tag.QString)?.byteString;
      if (q === undefined) throw invalidField('the transparent EC public key needs a Q String');
      return parse('Transparent EC Public Key', () => createPublicKey({ key: { kty: 'EC', crv: curve.jwk, ...pointToJwk(Buffer.from(q), curve) }, format: 'jwk' }));
    }
    default: throw keyFormatNotSupported(`a public key is given as PKCS#1 (3), X.509 (5), Transparent RSA Public Key (11) or Transparent EC Public Key (21), not key format type ${format}`);
  }
}

function requireStruct(s: Struct | undefined): Struct {
  if (!s || s.fields.length === 0) throw invalidField('a transparent key format needs its Key Material as a structure');
  return s;
}

/** A certificate's DER (X.509, given as DER or PEM), with its public key; malformed: Invalid Field. */
export function readCertificate(value: Buffer): { der: Buffer; publicKey: KeyObject } {
  const cert = parse('X.509 certificate', () => new X509Certificate(value));
  return { der: cert.raw, publicKey: cert.publicKey };
}

// ---- writing what a client asked for ----

/** What a Get returns: byte-string Key Material, or a transparent structure. */
export interface KeyOut {
  material: Buffer;
  transparent?: Struct;
}

export function writePrivateKey(key: KeyObject, format: number): KeyOut {
  switch (format) {
    case F.PKCS8: return { material: key.export({ format: 'der', type: 'pkcs8' }) };
    case F.PKCS1: return { material: key.export({ format: 'der', type: 'pkcs1' }) };
    case F.ECPrivateKey: return { material: key.export({ format: 'der', type: 'sec1' }) };
    case F.TransparentRSAPrivateKey: {
      const jwk = key.export({ format: 'jwk' });
      return { material: Buffer.alloc(0), transparent: { fields: RSA_PRIVATE_FIELDS.map(([tag, k]) => ({ tag, value: bigInteger(fromB64u(jwk[k] as string)) })) } };
    }
    case F.TransparentECPrivateKey: {
      const jwk = key.export({ format: 'jwk' });
      const curve = CURVES.find((c) => c.jwk === jwk.crv) as Curve;
      return { material: Buffer.alloc(0), transparent: { fields: [{ tag: Tag.RecommendedCurve, value: { enumeration: curve.recommended } as Value }, { tag: Tag.D, value: bigInteger(fromB64u(jwk.d)) }] } };
    }
    default: throw keyFormatNotSupported(`this private key cannot be returned in key format type ${format}`);
  }
}

export function writePublicKey(key: KeyObject, format: number): KeyOut {
  switch (format) {
    case F.X509: return { material: key.export({ format: 'der', type: 'spki' }) };
    case F.PKCS1: return { material: key.export({ format: 'der', type: 'pkcs1' }) };
    case F.TransparentRSAPublicKey: {
      const jwk = key.export({ format: 'jwk' });
      return { material: Buffer.alloc(0), transparent: { fields: [{ tag: Tag.Modulus, value: bigInteger(fromB64u(jwk.n)) }, { tag: Tag.PublicExponent, value: bigInteger(fromB64u(jwk.e)) }] } };
    }
    case F.TransparentECPublicKey: {
      const jwk = key.export({ format: 'jwk' });
      const curve = CURVES.find((c) => c.jwk === jwk.crv) as Curve;
      const q = Buffer.concat([Buffer.from([0x04]), fromB64u(jwk.x), fromB64u(jwk.y)]);
      return { material: Buffer.alloc(0), transparent: { fields: [{ tag: Tag.RecommendedCurve, value: { enumeration: curve.recommended } as Value }, { tag: Tag.QString, value: { byteString: q } as Value }] } };
    }
    default: throw keyFormatNotSupported(`this public key cannot be returned in key format type ${format}`);
  }
}

/** The stored form of a private key (sealed): PKCS#8 DER. */
export const privateStored = (key: KeyObject): Buffer => key.export({ format: 'der', type: 'pkcs8' });
/** The stored form of a public key (in the record): SubjectPublicKeyInfo DER. */
export const publicStored = (key: KeyObject): Buffer => key.export({ format: 'der', type: 'spki' });

export const privateFromStored = (der: Buffer): KeyObject => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
export const publicFromStored = (der: Buffer): KeyObject => createPublicKey({ key: der, format: 'der', type: 'spki' });
