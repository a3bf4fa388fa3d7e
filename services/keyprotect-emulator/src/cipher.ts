import { createCipheriv, createDecipheriv, randomBytes } from 'crypto';
import type { KeyRecord, KeyVersion } from './store';

// Envelope encryption with a versioned root key: AES-256-GCM, the caller's AAD
// strings (and the root key id) authenticated. The ciphertext string mirrors
// the service's own shape: base64 of {"ciphertext","iv","version","handle"},
// where handle names the root key version that wrapped it.

const FORMAT_VERSION = '4.0.0';

export interface Envelope {
  ciphertext: string;
  iv: string;
  version: string;
  handle: string;
}

// Imported root keys may be 128, 192 or 256 bits.
function gcm(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}

function aadBytes(rootId: string, aad: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify([rootId, ...aad]), 'utf8');
}

export function latestVersion(k: KeyRecord): KeyVersion {
  return k.versions[k.versions.length - 1];
}

export function wrapWith(k: KeyRecord, v: KeyVersion, plaintext: Buffer, aad: readonly string[]): string {
  const iv = randomBytes(12);
  const c = createCipheriv(gcm(v.material), v.material, iv);
  c.setAAD(aadBytes(k.id, aad));
  const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  const env: Envelope = { ciphertext: ct.toString('base64'), iv: iv.toString('base64'), version: FORMAT_VERSION, handle: v.id };
  return Buffer.from(JSON.stringify(env)).toString('base64');
}

/** Why a ciphertext could not be opened. */
export type UnwrapFailure = 'malformed' | 'unknown-version' | 'auth';

export function unwrapWith(k: KeyRecord, ciphertext: string, aad: readonly string[]): { plaintext: Buffer; version: KeyVersion } | UnwrapFailure {
  let env: Partial<Envelope>;
  try {
    env = JSON.parse(Buffer.from(ciphertext, 'base64').toString('utf8')) as Partial<Envelope>;
  } catch {
    return 'malformed';
  }
  if (typeof env !== 'object' || env === null || typeof env.ciphertext !== 'string' || typeof env.iv !== 'string' || typeof env.handle !== 'string') {
    return 'malformed';
  }
  const version = k.versions.find((v) => v.id === env.handle);
  if (!version) return 'unknown-version';
  const iv = Buffer.from(env.iv, 'base64');
  const ct = Buffer.from(env.ciphertext, 'base64');
  if (iv.length !== 12 || ct.length < 16) return 'malformed';
  try {
    const d = createDecipheriv(gcm(version.material), version.material, iv);
    d.setAAD(aadBytes(k.id, aad));
    d.setAuthTag(ct.subarray(ct.length - 16));
    const plaintext = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
    return { plaintext, version };
  } catch {
    return 'auth';
  }
}

/** Strict base64 (what Go's decoder accepts): the service rejects anything else with INVALID_FIELD_ERR. */
export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}
