// The cryptography of Encrypt, Decrypt, Sign, Signature Verify, MAC and MAC
// Verify (KMIP 1.4 §4.29-§4.34) with node:crypto, as pure functions of the
// key, the parameters and the data: AES-GCM and AES-CBC (PKCS#5 padding or
// none), RSA-OAEP, RSA PKCS#1 v1.5 and PSS signatures, ECDSA (DER
// signatures), HMAC-SHA-1 to SHA-512. Anything else is refused by name
// (Unsupported Cryptographic Parameters), bad combinations as Bad
// Cryptographic Parameters, data that fails to decrypt or verify as
// Cryptographic Failure. Errors never carry key material or data.
import {
  constants, createCipheriv, createDecipheriv, createHmac, KeyObject, privateDecrypt, publicEncrypt, randomBytes, sign as nodeSign,
  timingSafeEqual, verify as nodeVerify,
} from 'crypto';
import { BlockCipherMode as M, CryptographicAlgorithm as A, HashingAlgorithm as H, PaddingMethod as P } from '@keywarden/kmip';
import {
  badCryptographicParameters, cryptographicFailure, invalidField, missingInitializationVector, unsupportedCryptographicParameters,
} from '../../errors';
import type { KeyShape } from './keys';
import { CryptoParams, hashName, signatureScheme } from './params';

/** The most data one Encrypt, Decrypt, Sign, Verify or MAC takes (a KMIP message is at most 1 MiB). */
export const MAX_DATA_BYTES = 256 * 1024;

export function checkData(data: Buffer | undefined, what: string): Buffer {
  if (!data || data.length === 0) throw invalidField(`${what} needs Data`);
  if (data.length > MAX_DATA_BYTES) throw invalidField(`${what} takes at most ${MAX_DATA_BYTES} bytes of Data, not ${data.length}; split it`);
  return data;
}

// ---- AES ----

export interface Encrypted {
  data: Buffer;
  /** The IV or nonce the server made (none when the client gave one). */
  iv?: Buffer;
  tag?: Buffer;
}

/** Symmetric encryption is AES here: a key of another algorithm (HMAC, 3DES) is refused before it is unsealed. */
export function requireAes(keyAlgorithm: number | undefined, what: string): void {
  if (keyAlgorithm !== A.AES) throw badCryptographicParameters(`a symmetric key must be an AES key to ${what}; this one's Cryptographic Algorithm is ${keyAlgorithm ?? 'not set'}`);
}

const aesName = (key: Buffer, mode: string) => {
  if (![16, 24, 32].includes(key.length)) throw badCryptographicParameters(`an AES key of ${key.length * 8} bits cannot be used`);
  return `aes-${key.length * 8}-${mode}`;
};

function checkAlgorithm(p: CryptoParams, algorithm: number | undefined, what: string): void {
  if (p.cryptographicAlgorithm !== undefined && p.cryptographicAlgorithm !== algorithm) {
    throw badCryptographicParameters(`Cryptographic Algorithm ${p.cryptographicAlgorithm} does not match ${what}`);
  }
}

/** GCM's IV: 96 bits unless IV Length says otherwise (KMIP IV Length is in bits). */
function gcmIvBytes(p: CryptoParams): number {
  const bits = p.ivLength ?? 96;
  if (bits % 8 !== 0 || bits < 64 || bits > 1024) throw badCryptographicParameters(`IV Length ${bits} bits is not usable with GCM`);
  return bits / 8;
}

function gcmTagBytes(p: CryptoParams): number {
  const n = p.tagLength ?? 16;
  if (n < 12 || n > 16) throw badCryptographicParameters(`Tag Length ${n} bytes is not usable with GCM (12 to 16)`);
  return n;
}

/** The IV the client gave, or one the server makes unless Random IV is False. */
function ivFor(p: CryptoParams, given: Buffer | undefined, bytes: number, mode: string): { iv: Buffer; made: boolean } {
  if (given && given.length > 0) {
    if (given.length !== bytes) throw badCryptographicParameters(`${mode} needs an IV of ${bytes} bytes, not ${given.length}`);
    return { iv: given, made: false };
  }
  if (p.randomIv === false) throw missingInitializationVector(`${mode} needs an IV/Counter/Nonce (Random IV is False)`);
  return { iv: randomBytes(bytes), made: true };
}

function cbcPadding(p: CryptoParams): boolean {
  // PKCS#5 when none is named (the usual choice; "None" must be asked for).
  if (p.paddingMethod === undefined || p.paddingMethod === P.PKCS5) return true;
  if (p.paddingMethod === P.None) return false;
  throw unsupportedCryptographicParameters(`Padding Method ${p.paddingMethod} is not supported with CBC (PKCS5 or None are)`);
}

export function aesEncrypt(key: Buffer, p: CryptoParams, data: Buffer, givenIv?: Buffer, aad?: Buffer): Encrypted {
  checkAlgorithm(p, A.AES, 'the AES key');
  switch (p.blockCipherMode) {
    case M.GCM: {
      const { iv, made } = ivFor(p, givenIv, gcmIvBytes(p), 'GCM');
      const c = createCipheriv(aesName(key, 'gcm') as 'aes-256-gcm', key, iv, { authTagLength: gcmTagBytes(p) });
      if (aad && aad.length) c.setAAD(aad);
      const out = Buffer.concat([c.update(data), c.final()]);
      return { data: out, iv: made ? iv : undefined, tag: c.getAuthTag() };
    }
    case M.CBC: {
      const { iv, made } = ivFor(p, givenIv, 16, 'CBC');
      const pad = cbcPadding(p);
      if (!pad && data.length % 16 !== 0) throw badCryptographicParameters(`CBC without padding needs whole 16-byte blocks; the data has ${data.length} bytes`);
      if (aad && aad.length) throw badCryptographicParameters('CBC takes no Authenticated Encryption Additional Data');
      const c = createCipheriv(aesName(key, 'cbc'), key, iv);
      c.setAutoPadding(pad);
      return { data: Buffer.concat([c.update(data), c.final()]), iv: made ? iv : undefined };
    }
    case undefined: throw badCryptographicParameters('encrypting with an AES key needs a Block Cipher Mode (GCM or CBC) in the Cryptographic Parameters');
    default: throw unsupportedCryptographicParameters(`Block Cipher Mode ${p.blockCipherMode} is not supported (GCM and CBC are)`);
  }
}

export function aesDecrypt(key: Buffer, p: CryptoParams, data: Buffer, iv: Buffer | undefined, aad?: Buffer, tag?: Buffer): Buffer {
  checkAlgorithm(p, A.AES, 'the AES key');
  switch (p.blockCipherMode) {
    case M.GCM: {
      if (!iv || iv.length === 0) throw missingInitializationVector('GCM decryption needs the IV/Counter/Nonce');
      if (iv.length !== gcmIvBytes(p)) throw badCryptographicParameters(`GCM needs an IV of ${gcmIvBytes(p)} bytes, not ${iv.length}`);
      if (!tag || tag.length === 0) throw invalidField('GCM decryption needs the Authenticated Encryption Tag');
      if (tag.length !== gcmTagBytes(p)) throw badCryptographicParameters(`the Authenticated Encryption Tag has ${tag.length} bytes; Tag Length says ${gcmTagBytes(p)}`);
      const d = createDecipheriv(aesName(key, 'gcm') as 'aes-256-gcm', key, iv, { authTagLength: tag.length });
      if (aad && aad.length) d.setAAD(aad);
      d.setAuthTag(tag);
      try {
        return Buffer.concat([d.update(data), d.final()]);
      } catch {
        throw cryptographicFailure('the data could not be decrypted: the tag does not match (wrong key, IV, additional data or tag)');
      }
    }
    case M.CBC: {
      if (!iv || iv.length === 0) throw missingInitializationVector('CBC decryption needs the IV');
      if (iv.length !== 16) throw badCryptographicParameters(`CBC needs an IV of 16 bytes, not ${iv.length}`);
      if (data.length % 16 !== 0) throw cryptographicFailure(`CBC ciphertext is whole 16-byte blocks; this has ${data.length} bytes`);
      const d = createDecipheriv(aesName(key, 'cbc'), key, iv);
      d.setAutoPadding(cbcPadding(p));
      try {
        return Buffer.concat([d.update(data), d.final()]);
      } catch {
        throw cryptographicFailure('the data could not be decrypted: bad padding (wrong key or IV)');
      }
    }
    case undefined: throw badCryptographicParameters('decrypting with an AES key needs a Block Cipher Mode (GCM or CBC) in the Cryptographic Parameters');
    default: throw unsupportedCryptographicParameters(`Block Cipher Mode ${p.blockCipherMode} is not supported (GCM and CBC are)`);
  }
}

// ---- RSA-OAEP ----

function oaep(p: CryptoParams): string {
  if (p.paddingMethod !== P.OAEP) {
    throw p.paddingMethod === undefined
      ? badCryptographicParameters('RSA encryption needs Padding Method OAEP in the Cryptographic Parameters')
      : unsupportedCryptographicParameters(`Padding Method ${p.paddingMethod} is not supported for RSA encryption (OAEP is)`);
  }
  // OAEP's hash and MGF1's hash are one (node:crypto); SHA-1 is OAEP's default (RFC 8017).
  const hash = p.hashingAlgorithm ?? H.SHA1;
  if (p.maskGeneratorHashingAlgorithm !== undefined && p.maskGeneratorHashingAlgorithm !== hash) {
    throw unsupportedCryptographicParameters('an MGF1 hash other than the OAEP hash is not supported');
  }
  if (p.pSource && p.pSource.length) throw unsupportedCryptographicParameters('an OAEP label (P Source) is not supported');
  return hashName(hash);
}

const HASH_BYTES: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** EC keys sign and verify only: keywarden has no EC encryption scheme (ECIES). */
function onlyRsaEncrypts(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw badCryptographicParameters(`${key.asymmetricKeyType ?? 'this'} keys cannot encrypt or decrypt here (RSA keys do, with OAEP; EC keys sign and verify)`);
  }
}

export function rsaEncrypt(pub: KeyObject, shape: KeyShape, p: CryptoParams, data: Buffer): Buffer {
  onlyRsaEncrypts(pub);
  checkAlgorithm(p, A.RSA, 'the RSA key');
  const hash = oaep(p);
  const max = shape.length / 8 - 2 * HASH_BYTES[hash] - 2;
  if (data.length > max) throw invalidField(`RSA-OAEP (${hash}) with a ${shape.length}-bit key takes at most ${max} bytes, not ${data.length}`);
  return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
}

export function rsaDecrypt(priv: KeyObject, p: CryptoParams, data: Buffer): Buffer {
  onlyRsaEncrypts(priv);
  checkAlgorithm(p, A.RSA, 'the RSA key');
  const hash = oaep(p);
  try {
    return privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
  } catch {
    throw cryptographicFailure('the data could not be decrypted (wrong key, hash or ciphertext)');
  }
}

// ---- signatures ----

interface Scheme {
  hash: string;
  options: { padding?: number; saltLength?: number; dsaEncoding?: 'der' };
}

/**
 * The scheme a key signs with: a Digital Signature Algorithm, or a Padding
 * Method (PKCS1 v1.5, PSS) and a Hashing Algorithm; an EC key defaults to
 * ECDSA with its curve's hash (SHA-256 on P-256, SHA-384 on P-384).
 */
function schemeFor(shape: KeyShape, p: CryptoParams): Scheme {
  let kind: 'pkcs1' | 'pss' | 'ecdsa';
  let hash = p.hashingAlgorithm;
  if (p.digitalSignatureAlgorithm !== undefined) {
    const s = signatureScheme(p.digitalSignatureAlgorithm);
    kind = s.scheme;
    if (s.hash !== undefined) {
      if (hash !== undefined && hash !== s.hash) throw badCryptographicParameters('the Hashing Algorithm does not match the Digital Signature Algorithm');
      hash = s.hash;
    }
  } else if (shape.kind === 'ec') {
    kind = 'ecdsa';
  } else if (p.paddingMethod === P.PSS) {
    kind = 'pss';
  } else if (p.paddingMethod === P.PKCS1V15) {
    kind = 'pkcs1';
  } else {
    throw badCryptographicParameters('an RSA signature needs a Digital Signature Algorithm, or Padding Method PKCS1 v1.5 or PSS with a Hashing Algorithm');
  }
  if ((kind === 'ecdsa') !== (shape.kind === 'ec')) throw badCryptographicParameters(`${kind === 'ecdsa' ? 'ECDSA' : 'an RSA signature'} cannot be made with ${shape.kind === 'ec' ? 'an EC' : 'an RSA'} key`);
  if (kind === 'ecdsa') {
    checkAlgorithmOneOf(p, [A.ECDSA, A.EC], 'the EC key');
    return { hash: hashName(hash ?? (shape.length === 384 ? H.SHA384 : H.SHA256)), options: { dsaEncoding: 'der' } };
  }
  checkAlgorithm(p, A.RSA, 'the RSA key');
  if (hash === undefined) throw badCryptographicParameters('an RSA signature needs a Hashing Algorithm');
  const name = hashName(hash);
  if (kind === 'pkcs1') return { hash: name, options: { padding: constants.RSA_PKCS1_PADDING } };
  if (p.maskGeneratorHashingAlgorithm !== undefined && p.maskGeneratorHashingAlgorithm !== hash) {
    throw unsupportedCryptographicParameters('an MGF1 hash other than the PSS hash is not supported');
  }
  // PSS salt: Salt Length (1.4) or, by default, the hash's length.
  return { hash: name, options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength ?? HASH_BYTES[name] } };
}

function checkAlgorithmOneOf(p: CryptoParams, algorithms: number[], what: string): void {
  if (p.cryptographicAlgorithm !== undefined && !algorithms.includes(p.cryptographicAlgorithm)) {
    throw badCryptographicParameters(`Cryptographic Algorithm ${p.cryptographicAlgorithm} does not match ${what}`);
  }
}

export function signData(priv: KeyObject, shape: KeyShape, p: CryptoParams, data: Buffer): Buffer {
  const s = schemeFor(shape, p);
  return nodeSign(s.hash, data, { key: priv, ...s.options });
}

export function verifyData(pub: KeyObject, shape: KeyShape, p: CryptoParams, data: Buffer, signature: Buffer): boolean {
  const s = schemeFor(shape, p);
  try {
    return nodeVerify(s.hash, data, { key: pub, ...s.options }, signature);
  } catch {
    // A signature that cannot even be parsed (a bad DER) is simply not valid.
    return false;
  }
}

// ---- HMAC ----

const HMAC_HASH: Record<number, string> = {
  [A.HMACSHA1]: 'sha1', [A.HMACSHA224]: 'sha224', [A.HMACSHA256]: 'sha256', [A.HMACSHA384]: 'sha384', [A.HMACSHA512]: 'sha512',
};

/** Whether a Cryptographic Algorithm is one of the HMACs keywarden computes. */
export const isHmacAlgorithm = (a: number): boolean => a in HMAC_HASH;

/** HMAC with a key of an HMAC algorithm; the parameters may name that algorithm, no other. */
export function hmac(keyAlgorithm: number | undefined, key: Buffer, p: CryptoParams, data: Buffer): Buffer {
  const hash = keyAlgorithm === undefined ? undefined : HMAC_HASH[keyAlgorithm];
  if (!hash) throw badCryptographicParameters(`a MAC needs a key of an HMAC algorithm (HMAC-SHA1 to HMAC-SHA512), not Cryptographic Algorithm ${keyAlgorithm}`);
  if (p.cryptographicAlgorithm !== undefined && p.cryptographicAlgorithm !== keyAlgorithm) {
    throw badCryptographicParameters(`Cryptographic Algorithm ${p.cryptographicAlgorithm} does not match the key's (${keyAlgorithm})`);
  }
  return createHmac(hash, key).update(data).digest();
}

/** Constant-time comparison of a computed and a given MAC. */
export function sameMac(computed: Buffer, given: Buffer): boolean {
  return computed.length === given.length && timingSafeEqual(computed, given);
}
