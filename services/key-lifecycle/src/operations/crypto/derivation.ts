// Key derivation (KMIP 1.4 §4.6 Derive Key, Derivation Methods §9.1.3.2.21)
// as pure functions: PBKDF2 (RFC 8018, PRF HMAC with the Hashing Algorithm),
// NIST SP 800-108 KDF in counter mode (PRF HMAC, a 32-bit counter from 1
// before the fixed input data, which is the Derivation Data) and HKDF
// (RFC 5869; KMIP 2.1).
import { createHmac, hkdf, pbkdf2 } from 'crypto';
import { promisify } from 'util';
import { grpc, ServiceError } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import { badCryptographicParameters, invalidField } from '../../errors';
import { WorkGate } from '../../work-gate';
import { hashName } from './params';

/** Iterations one PBKDF2 derivation may ask for (each costs CPU here). */
export const MAX_ITERATIONS = 1_000_000;
/** The longest derived key, in bytes. */
export const MAX_DERIVED_BYTES = 512;

const HASH_BYTES: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/**
 * PBKDF2 derivations at once per process, and waiting: one of a million
 * iterations into 512 bytes takes seconds of one of libuv's 4 threads (which
 * key pair generation and password checks share); more are refused at once.
 */
export const CONCURRENT_PBKDF2 = 1;
export const WAITING_PBKDF2 = 16;
export const pbkdf2Gate = new WorkGate(CONCURRENT_PBKDF2, WAITING_PBKDF2, () => new ServiceError(grpc.status.RESOURCE_EXHAUSTED,
  `${CONCURRENT_PBKDF2 + WAITING_PBKDF2} PBKDF2 derivations are already running or waiting; retry in a moment`, ResultReason.ServerLimitExceeded));

export async function pbkdf2Derive(password: Buffer, salt: Buffer | undefined, iterations: number | undefined, hash: number, bytes: number, gate: WorkGate = pbkdf2Gate): Promise<Buffer> {
  if (!salt || salt.length === 0) throw invalidField('PBKDF2 needs a Salt in the Derivation Parameters');
  if (!iterations || iterations < 1) throw invalidField('PBKDF2 needs an Iteration Count of at least 1');
  if (iterations > MAX_ITERATIONS) throw invalidField(`PBKDF2 takes at most ${MAX_ITERATIONS} iterations here, not ${iterations}`);
  // Off the event loop (libuv's pool), one at a time.
  const name = hashName(hash);
  return gate.run(() => promisify(pbkdf2)(password, salt, iterations, bytes, name));
}

/** NIST SP 800-108 §5.1 (counter mode): K(i) = PRF(K_I, [i]_32 || fixed), i = 1…n; the first `bytes` of K(1) || K(2) || …. */
export function kdfCounter(key: Buffer, fixed: Buffer | undefined, hash: number, bytes: number): Buffer {
  if (!fixed || fixed.length === 0) throw invalidField('NIST SP 800-108 counter mode needs the fixed input data as Derivation Data');
  const name = hashName(hash);
  const n = Math.ceil(bytes / HASH_BYTES[name]);
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 1; i <= n; i++) {
    counter.writeUInt32BE(i);
    blocks.push(createHmac(name, key).update(counter).update(fixed).digest());
  }
  const out = Buffer.concat(blocks);
  const result = Buffer.from(out.subarray(0, bytes));
  out.fill(0);
  return result;
}

export async function hkdfDerive(key: Buffer, salt: Buffer | undefined, info: Buffer | undefined, hash: number, bytes: number): Promise<Buffer> {
  const name = hashName(hash);
  if (bytes > 255 * HASH_BYTES[name]) throw badCryptographicParameters(`HKDF with ${name} derives at most ${255 * HASH_BYTES[name]} bytes`);
  return Buffer.from(await promisify(hkdf)(name, key, salt ?? Buffer.alloc(0), info ?? Buffer.alloc(0), bytes));
}
