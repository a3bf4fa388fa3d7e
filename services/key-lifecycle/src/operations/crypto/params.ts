// Cryptographic Parameters (KMIP 1.4 §3.6; 2.1 §4.3) as the operations read
// them: from the request, else the key's own Cryptographic Parameters
// attribute (its first instance), as §4.29-§4.34 say.
import type { lifecycleV1 } from '@keywarden/proto';
import { DigitalSignatureAlgorithm as D, HashingAlgorithm as H, Tag } from '@keywarden/kmip';
import { badCryptographicParameters, unsupportedCryptographicParameters } from '../../errors';
import type { KeyRecord } from '../../model/record';
import { fromProto, StoredValue } from '../../model/values';

export interface CryptoParams {
  blockCipherMode?: number;
  paddingMethod?: number;
  hashingAlgorithm?: number;
  digitalSignatureAlgorithm?: number;
  cryptographicAlgorithm?: number;
  randomIv?: boolean;
  /** Bits. */
  ivLength?: number;
  /** Bytes. */
  tagLength?: number;
  /** Bytes (1.4). */
  saltLength?: number;
  maskGeneratorHashingAlgorithm?: number;
  pSource?: Buffer;
}

const FIELDS: Array<[number, keyof CryptoParams, 'enum' | 'int' | 'bool' | 'bytes']> = [
  [Tag.BlockCipherMode, 'blockCipherMode', 'enum'], [Tag.PaddingMethod, 'paddingMethod', 'enum'],
  [Tag.HashingAlgorithm, 'hashingAlgorithm', 'enum'], [Tag.DigitalSignatureAlgorithm, 'digitalSignatureAlgorithm', 'enum'],
  [Tag.CryptographicAlgorithm, 'cryptographicAlgorithm', 'enum'], [Tag.RandomIV, 'randomIv', 'bool'],
  [Tag.IVLength, 'ivLength', 'int'], [Tag.TagLength, 'tagLength', 'int'], [Tag.SaltLength, 'saltLength', 'int'],
  [Tag.MaskGeneratorHashingAlgorithm, 'maskGeneratorHashingAlgorithm', 'enum'], [Tag.PSource, 'pSource', 'bytes'],
];

/** Fields keywarden ignores because they change nothing here (Key Role Type) or name the default (Mask Generator MGF1). */
const IGNORED: ReadonlySet<number> = new Set([Tag.KeyRoleType, Tag.MaskGenerator]);

function fromStored(v: StoredValue, what: string): CryptoParams {
  if (v.t !== 'struct') throw badCryptographicParameters(`${what} must be a structure`);
  const out: Record<string, unknown> = {};
  for (const f of v.v) {
    const def = FIELDS.find(([tag]) => tag === f.tag);
    if (!def) {
      if (IGNORED.has(f.tag)) continue;
      throw unsupportedCryptographicParameters(`${what}: field 0x${f.tag.toString(16)} is not supported by this server`);
    }
    const [, key, t] = def;
    const x = f.value;
    if (t === 'enum' && x.t === 'enum') out[key] = x.v;
    else if (t === 'int' && x.t === 'int') out[key] = x.v;
    else if (t === 'bool' && x.t === 'bool') out[key] = x.v;
    else if (t === 'bytes' && x.t === 'bytes') out[key] = Buffer.from(x.v, 'base64');
    else throw badCryptographicParameters(`${what}: field 0x${f.tag.toString(16)} has the wrong type`);
  }
  return out as CryptoParams;
}

/** The request's parameters, else the key's first Cryptographic Parameters attribute, else none. */
export function paramsFor(given: lifecycleV1.AttributeValue | undefined, key: KeyRecord): CryptoParams {
  if (given) return fromStored(fromProto(given, 'Cryptographic Parameters'), 'Cryptographic Parameters');
  const own = key.attrs['Cryptographic Parameters']?.items[0];
  return own ? fromStored(own.v, "the key's Cryptographic Parameters") : {};
}

/** A Cryptographic Parameters value given to wrap or unwrap (Key Wrapping Data / Specification). */
export function paramsOf(given: lifecycleV1.AttributeValue | undefined, what: string): CryptoParams {
  return given ? fromStored(fromProto(given, what), what) : {};
}

/** node:crypto's name for a KMIP Hashing Algorithm keywarden supports. */
export function hashName(h: number | undefined, what = 'Hashing Algorithm'): string {
  switch (h) {
    case H.SHA1: return 'sha1';
    case H.SHA224: return 'sha224';
    case H.SHA256: return 'sha256';
    case H.SHA384: return 'sha384';
    case H.SHA512: return 'sha512';
    default: throw unsupportedCryptographicParameters(`${what} ${h ?? '(none)'} is not supported (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512 are)`);
  }
}

/** A Digital Signature Algorithm as its scheme and hash. */
export function signatureScheme(dsa: number): { scheme: 'pkcs1' | 'pss' | 'ecdsa'; hash?: number } {
  switch (dsa) {
    case D.SHA1WithRSAEncryption: return { scheme: 'pkcs1', hash: H.SHA1 };
    case D.SHA224WithRSAEncryption: return { scheme: 'pkcs1', hash: H.SHA224 };
    case D.SHA256WithRSAEncryption: return { scheme: 'pkcs1', hash: H.SHA256 };
    case D.SHA384WithRSAEncryption: return { scheme: 'pkcs1', hash: H.SHA384 };
    case D.SHA512WithRSAEncryption: return { scheme: 'pkcs1', hash: H.SHA512 };
    case D.RSASSAPSS: return { scheme: 'pss' };
    case D.ECDSAWithSHA1: return { scheme: 'ecdsa', hash: H.SHA1 };
    case D.ECDSAWithSHA224: return { scheme: 'ecdsa', hash: H.SHA224 };
    case D.ECDSAWithSHA256: return { scheme: 'ecdsa', hash: H.SHA256 };
    case D.ECDSAWithSHA384: return { scheme: 'ecdsa', hash: H.SHA384 };
    case D.ECDSAWithSHA512: return { scheme: 'ecdsa', hash: H.SHA512 };
    default: throw unsupportedCryptographicParameters(`Digital Signature Algorithm ${dsa} is not supported (RSA PKCS#1 v1.5 and PSS, ECDSA with SHA-1 to SHA-512 are)`);
  }
}

