// Password hashes of console operator accounts: scrypt (RFC 7914) with a salt
// of its own per hash, written as a PHC string
//   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>
// The CLI hashes (so a password never crosses the network when it is set);
// key-lifecycle checks the form, stores the string and verifies sign-ins.
import { randomBytes, scrypt, timingSafeEqual } from 'crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/**
 * N = 2^15, r = 8, p = 3: one of OWASP's equivalent scrypt settings (the
 * same work as N = 2^17, p = 1) at 32 MiB of memory per hash instead of 128,
 * so that a verifying key-lifecycle replica stays within its memory limit.
 */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Least work accepted (N·r·p of the default): weaker hashes are refused, not stored. */
const MIN_WORK = 2 ** 15 * 8 * 3;
/** Most memory one verification may take (128·N·r bytes). */
const MAX_MEMORY = 256 * 1024 * 1024;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export interface ParsedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

/** Why a password cannot be an operator's, or undefined. */
export function weakPassword(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password has at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `a password has at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

/** Reads a hash string; throws an Error saying what is wrong with it (never echoing it). */
export function parsePasswordHash(s: string): ParsedHash {
  const m = FORMAT.exec(s);
  if (!m) throw new Error('the password hash is not "$scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>" (base64)');
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4], 'base64');
  const hash = Buffer.from(m[5], 'base64');
  if (ln < 1 || ln > 22 || r < 1 || p < 1) throw new Error('the password hash has scrypt parameters out of range');
  if (2 ** ln * r * p < MIN_WORK) throw new Error(`the password hash is too cheap to compute (N·r·p below ${MIN_WORK}); hash with keywarden's defaults`);
  if (128 * 2 ** ln * r > MAX_MEMORY) throw new Error('the password hash needs more than 256 MiB to verify');
  if (salt.length < SALT_BYTES) throw new Error(`the password hash's salt is shorter than ${SALT_BYTES} bytes`);
  if (hash.length < HASH_BYTES || hash.length > 64) throw new Error(`the password hash is not ${HASH_BYTES} to 64 bytes long`);
  return { ln, r, p, salt, hash };
}

function derive(password: string, salt: Buffer, o: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** o.ln;
  // Node refuses above maxmem (default 32 MiB, which N=2^15, r=8 needs exactly).
  const maxmem = 128 * N * o.r + 1024 * 1024;
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, length, { N, r: o.r, p: o.p, maxmem }, (e, k) => (e ? reject(e) : resolve(k))));
}

/** A new hash of `password` with a fresh random salt. */
export async function hashPassword(password: string, o: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, o, HASH_BYTES);
  return `$scrypt$ln=${o.ln},r=${o.r},p=${o.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `password` matches `stored` (compared in constant time). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parsePasswordHash(stored);
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const k = await derive(password, h.salt, h, h.hash.length);
  return timingSafeEqual(k, h.hash);
}
