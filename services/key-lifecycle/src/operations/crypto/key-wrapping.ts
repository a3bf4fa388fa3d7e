// Key wrapping (KMIP 1.4 §2.1.5 Key Wrapping Data, §2.1.6 Key Wrapping
// Specification): Get returns a key wrapped by another key of the tenant,
// Register takes wrapped material and unwraps it before storing it. Wrapping
// Method Encrypt with an AES key (Block Cipher Mode NIST Key Wrap, RFC 3394,
// or AES Key Wrap Padding, RFC 5649) or an RSA key (Padding Method OAEP).
// Encoding Option No Encoding wraps the Key Material bytes alone; TTLV
// Encoding (the default) wraps the whole Key Value structure as TTLV.
import { constants, createCipheriv, createDecipheriv, KeyObject, privateDecrypt, publicEncrypt } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import {
  BlockCipherMode as M, CryptographicAlgorithm as A, decodeTtlv, HashingAlgorithm as H, EncodingOption, encodeKeyValue, encodeTtlv, ItemType, KeyFormatType, ObjectType, PaddingMethod as P, Tag, TtlvNode,
  WrappingMethod,
} from '@keywarden/kmip';
import type { Core } from '../../core';
import {
  badCryptographicParameters, cryptographicFailure, encodingOptionError, featureNotSupported, illegalObjectType, invalidField,
  unsupportedCryptographicParameters, wrappingObjectDestroyed, wrappingObjectNotFound,
} from '../../errors';
import type { KeyRecord } from '../../model/record';
import { isDestroyed } from '../../model/state';
import { KeyUse, USES } from '../../model/usage';
import type { CallerContext, TenantRecord } from '../../store/store';
import { Loaded, loadOther, privateKey, publicKey, secretBytes } from './keyring';
import { CryptoParams, hashName, paramsOf } from './params';

/** Objects with a Key Block: what can be wrapped (certificates and opaque objects have none). */
const WRAPPABLE: ReadonlySet<number> = new Set([ObjectType.SymmetricKey, ObjectType.SecretData, ObjectType.PrivateKey, ObjectType.PublicKey]);

const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const KWP_IV = Buffer.from('a65959a6', 'hex');

// ---- the algorithms (pure) ----

type AesWrap = 'kw' | 'kwp';

function aesWrapOf(p: CryptoParams): AesWrap {
  switch (p.blockCipherMode) {
    case undefined:
    case M.NISTKeyWrap: return 'kw';
    case M.AESKeyWrapPadding: return 'kwp';
    default: throw unsupportedCryptographicParameters(`Block Cipher Mode ${p.blockCipherMode} cannot wrap keys (NIST Key Wrap and AES Key Wrap Padding can)`);
  }
}

function aesCipher(kek: Buffer, kind: AesWrap): string {
  if (![16, 24, 32].includes(kek.length)) throw badCryptographicParameters(`an AES key of ${kek.length * 8} bits cannot wrap`);
  return `id-aes${kek.length * 8}-wrap${kind === 'kwp' ? '-pad' : ''}`;
}

/** RFC 3394 (kw) or RFC 5649 (kwp) key wrap. */
export function aesWrap(kek: Buffer, kind: AesWrap, data: Buffer): Buffer {
  if (kind === 'kw' && (data.length < 16 || data.length % 8 !== 0)) {
    throw badCryptographicParameters(`NIST Key Wrap (RFC 3394) wraps a multiple of 8 bytes, at least 16; this is ${data.length}: use AES Key Wrap Padding`);
  }
  const c = createCipheriv(aesCipher(kek, kind), kek, kind === 'kw' ? KW_IV : KWP_IV);
  return Buffer.concat([c.update(data), c.final()]);
}

export function aesUnwrap(kek: Buffer, kind: AesWrap, wrapped: Buffer): Buffer {
  if (wrapped.length < 16 || wrapped.length % 8 !== 0) throw cryptographicFailure('the wrapped key is not a whole number of 8-byte blocks');
  const d = createDecipheriv(aesCipher(kek, kind), kek, kind === 'kw' ? KW_IV : KWP_IV);
  try {
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    throw cryptographicFailure('the key could not be unwrapped: its integrity check failed (wrong key or method)');
  }
}

function oaepHash(p: CryptoParams): string {
  if (p.paddingMethod !== undefined && p.paddingMethod !== P.OAEP) {
    throw unsupportedCryptographicParameters(`Padding Method ${p.paddingMethod} cannot wrap keys with RSA (OAEP can)`);
  }
  if (p.maskGeneratorHashingAlgorithm !== undefined && p.maskGeneratorHashingAlgorithm !== (p.hashingAlgorithm ?? H.SHA1)) {
    throw unsupportedCryptographicParameters('an MGF1 hash other than the OAEP hash is not supported');
  }
  // SHA-1 is OAEP's default (RFC 8017).
  return hashName(p.hashingAlgorithm ?? H.SHA1);
}

export function rsaWrap(pub: KeyObject, bits: number, p: CryptoParams, data: Buffer): Buffer {
  const hash = oaepHash(p);
  const max = bits / 8 - 2 * ({ sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 }[hash] ?? 64) - 2;
  if (data.length > max) throw badCryptographicParameters(`RSA-OAEP (${hash}) with a ${bits}-bit key wraps at most ${max} bytes; this key is ${data.length}: wrap it with an AES key`);
  return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
}

export function rsaUnwrap(priv: KeyObject, p: CryptoParams, wrapped: Buffer): Buffer {
  const hash = oaepHash(p);
  try {
    return privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, wrapped);
  } catch {
    throw cryptographicFailure('the key could not be unwrapped (wrong key, hash or data)');
  }
}

// ---- transparent structures as TTLV (for TTLV Encoding) ----

function toTtlv(f: lifecycleV1.Field): TtlvNode {
  const v = f.value;
  if (v?.bigInteger !== undefined) {
    const b = Buffer.from(v.bigInteger);
    let n = b.length ? BigInt(`0x${b.toString('hex')}`) : 0n;
    if (b.length && b[0] & 0x80) n -= 1n << BigInt(b.length * 8);
    return { tag: f.tag, type: ItemType.BigInteger, value: n };
  }
  if (v?.enumeration !== undefined) return { tag: f.tag, type: ItemType.Enumeration, value: v.enumeration };
  if (v?.byteString !== undefined) return { tag: f.tag, type: ItemType.ByteString, value: Buffer.from(v.byteString) };
  throw invalidField('the key material holds a field keywarden cannot encode');
}

function fromTtlv(n: TtlvNode): lifecycleV1.Field {
  switch (n.type) {
    case ItemType.BigInteger: {
      let v = n.value;
      let bytes = 1;
      while (v < -(1n << BigInt(bytes * 8 - 1)) || v >= 1n << BigInt(bytes * 8 - 1)) bytes++;
      if (v < 0n) v += 1n << BigInt(bytes * 8);
      return { tag: n.tag, value: { bigInteger: Buffer.from(v.toString(16).padStart(bytes * 2, '0'), 'hex') } as lifecycleV1.AttributeValue };
    }
    case ItemType.Enumeration: return { tag: n.tag, value: { enumeration: n.value } as lifecycleV1.AttributeValue };
    case ItemType.ByteString: return { tag: n.tag, value: { byteString: n.value } as lifecycleV1.AttributeValue };
    default: throw invalidField('the unwrapped Key Material holds a field of an unexpected type');
  }
}

// ---- Get: wrap ----

function wrapping(w: lifecycleV1.KeyWrapping, what: string): { uid: string; params: CryptoParams; encoding: number } {
  if (w.wrappingMethod !== WrappingMethod.Encrypt) throw featureNotSupported(`Wrapping Method ${w.wrappingMethod} is not supported (Encrypt is)`);
  if (w.macSignatureKeyUniqueIdentifier) throw featureNotSupported('MAC/Signature Key Information is not supported: wrap with Encrypt only');
  if (!w.encryptionKeyUniqueIdentifier) throw invalidField(`${what} needs Encryption Key Information naming the key`);
  const encoding = w.encodingOption || EncodingOption.TTLVEncoding;
  if (encoding !== EncodingOption.NoEncoding && encoding !== EncodingOption.TTLVEncoding) throw encodingOptionError(`Encoding Option ${encoding} is not known`);
  return { uid: w.encryptionKeyUniqueIdentifier, params: paramsOf(w.cryptographicParameters, 'the wrapping Cryptographic Parameters'), encoding };
}

/** The wrapping (or unwrapping) key: in the tenant, not destroyed, and allowed to. */
async function wrappingKey(core: Core, t: TenantRecord, uid: string, use: KeyUse): Promise<Loaded> {
  const obj = await core.store.getObject(t.id, uid);
  if (!obj) throw wrappingObjectNotFound(uid);
  if (isDestroyed(obj.rec.state)) throw wrappingObjectDestroyed(`the ${use === USES.wrap ? 'wrapping' : 'unwrapping'} key has been destroyed`);
  return loadOther(core, t, uid, use, `the ${use === USES.wrap ? 'wrapping' : 'unwrapping'} key`, wrappingObjectNotFound);
}

/** The Get answer `res` with its material wrapped as `spec` says (the plaintext is zeroed). */
export async function wrapForGet(core: Core, t: TenantRecord, rec: KeyRecord, res: lifecycleV1.GetResponse, spec: lifecycleV1.KeyWrapping): Promise<lifecycleV1.GetResponse> {
  try {
    if (!WRAPPABLE.has(rec.objectType)) throw illegalObjectType('only objects with a Key Block (keys and secret data) can be wrapped');
    const w = wrapping(spec, 'a Key Wrapping Specification');
    if (w.uid === rec.uid) throw invalidField('a key cannot wrap itself');
    const k = await wrappingKey(core, t, w.uid, USES.wrap);
    let plain: Buffer;
    if (w.encoding === EncodingOption.NoEncoding) {
      if (res.transparentMaterial) throw encodingOptionError('No Encoding wraps byte-string Key Material only; a transparent key needs TTLV Encoding');
      plain = Buffer.from(res.keyMaterial);
    } else {
      const transparent = res.transparentMaterial?.fields.map(toTtlv);
      plain = encodeTtlv(encodeKeyValue({ keyFormatType: res.keyFormatType, keyMaterial: Buffer.from(res.keyMaterial), transparent }));
    }
    try {
      const wrapped = await wrapWith(core, k, w.params, plain);
      return {
        ...res,
        keyMaterial: wrapped,
        transparentMaterial: undefined,
        keyWrappingData: {
          wrappingMethod: WrappingMethod.Encrypt, encryptionKeyUniqueIdentifier: w.uid, cryptographicParameters: spec.cryptographicParameters,
          encodingOption: w.encoding, macSignatureKeyUniqueIdentifier: '', ivCounterNonce: Buffer.alloc(0),
        },
      };
    } finally {
      plain.fill(0);
    }
  } finally {
    res.keyMaterial.fill(0);
  }
}

async function wrapWith(core: Core, k: Loaded, p: CryptoParams, plain: Buffer): Promise<Buffer> {
  if (k.rec.objectType === ObjectType.PublicKey) {
    const pub = publicKey(k);
    if (pub.shape.kind !== 'rsa') throw badCryptographicParameters('an EC public key cannot wrap keys (RSA-OAEP and AES key wrap can)');
    return rsaWrap(pub.key, pub.shape.length, p, plain);
  }
  const kek = await secretBytes(core, k);
  try {
    if (k.rec.algorithm !== A.AES) throw badCryptographicParameters('a symmetric wrapping key must be an AES key');
    return aesWrap(kek, aesWrapOf(p), plain);
  } finally {
    kek.fill(0);
  }
}

// ---- Register: unwrap ----

/** The material a wrapped Register carries, unwrapped (this call's own copy: the caller zeroes it). */
export async function unwrapForRegister(core: Core, ctx: CallerContext, req: lifecycleV1.RegisterRequest, kwd: lifecycleV1.KeyWrapping): Promise<{ bytes: Buffer; transparent?: lifecycleV1.Structure }> {
  if (!WRAPPABLE.has(req.objectType)) throw illegalObjectType('only objects with a Key Block (keys and secret data) can be registered wrapped');
  const w = wrapping(kwd, 'wrapped key material');
  const wrapped = Buffer.from(req.keyMaterial);
  if (wrapped.length === 0) throw invalidField('the object has no key material');
  const k = await wrappingKey(core, ctx.tenant, w.uid, USES.unwrap);
  let plain: Buffer;
  if (k.rec.objectType === ObjectType.PrivateKey) {
    const priv = await privateKey(core, k);
    if (priv.shape.kind !== 'rsa') throw badCryptographicParameters('an EC private key cannot unwrap keys (RSA-OAEP and AES key wrap can)');
    plain = rsaUnwrap(priv.key, w.params, wrapped);
  } else {
    const kek = await secretBytes(core, k);
    try {
      if (k.rec.algorithm !== A.AES) throw badCryptographicParameters('a symmetric unwrapping key must be an AES key');
      plain = aesUnwrap(kek, aesWrapOf(w.params), wrapped);
    } finally {
      kek.fill(0);
    }
  }
  if (w.encoding === EncodingOption.NoEncoding) return { bytes: plain };
  try {
    return keyValueOf(plain, req.keyFormatType);
  } finally {
    plain.fill(0);
  }
}

/** A TTLV-encoded Key Value, as its Key Material (bytes, or a transparent structure's fields). */
function keyValueOf(ttlv: Buffer, format: number): { bytes: Buffer; transparent?: lifecycleV1.Structure } {
  let node: TtlvNode;
  try {
    node = decodeTtlv(ttlv, { maxMessageSize: 64 * 1024 });
  } catch {
    throw cryptographicFailure('the unwrapped data is not a TTLV-encoded Key Value (wrong Encoding Option?)');
  }
  if (node.tag !== Tag.KeyValue || node.type !== ItemType.Structure) throw cryptographicFailure('the unwrapped data is not a Key Value structure');
  const km = node.value.find((n) => n.tag === Tag.KeyMaterial);
  if (!km) throw invalidField('the unwrapped Key Value has no Key Material');
  if (km.type === ItemType.ByteString) return { bytes: Buffer.from(km.value) };
  if (km.type !== ItemType.Structure) throw invalidField('the unwrapped Key Material must be a Byte String or a Structure');
  if (format === KeyFormatType.TransparentSymmetricKey) {
    const key = km.value.find((n) => n.tag === Tag.Key);
    if (key?.type !== ItemType.ByteString) throw invalidField('a Transparent Symmetric Key needs its Key');
    return { bytes: Buffer.from(key.value) };
  }
  return { bytes: Buffer.alloc(0), transparent: { fields: km.value.map(fromTtlv) } };
}
