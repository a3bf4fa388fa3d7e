import { randomBytes } from 'crypto';
import { badRequest } from './errors';

// Key material generated for GenerateAndSeal, by KMIP Cryptographic Algorithm
// (KMIP 1.4 §9.1.3.2.13): symmetric algorithms only, from the OS CSPRNG.

const AES = 3;
const TRIPLE_DES = 2;
/** HMAC-SHA1 … HMAC-SHA512 (0x7–0xB) and HMAC-MD5 (0xC). */
const HMAC = new Set([7, 8, 9, 10, 11, 12]);

/** Length in bytes of a key of this algorithm and bit length, or INVALID_ARGUMENT. */
export function keyBytes(algorithm: number, lengthBits: number): number {
  if (algorithm === AES) {
    if (lengthBits !== 128 && lengthBits !== 192 && lengthBits !== 256) throw badRequest(`AES keys are 128, 192 or 256 bits, not ${lengthBits}`);
    return lengthBits / 8;
  }
  if (algorithm === TRIPLE_DES) {
    // KMIP clients say 168 or 192 for three-key Triple DES; both are 24 bytes with parity.
    if (lengthBits !== 168 && lengthBits !== 192) throw badRequest(`Triple DES keys are 168 (or 192) bits, not ${lengthBits}`);
    return 24;
  }
  if (HMAC.has(algorithm)) {
    if (lengthBits < 128 || lengthBits > 4096 || lengthBits % 8 !== 0) throw badRequest(`HMAC keys are 128 to 4096 bits in whole bytes, not ${lengthBits}`);
    return lengthBits / 8;
  }
  throw badRequest(`crk-wrapping generates AES, Triple DES and HMAC keys; algorithm ${algorithm} is not one of them`);
}

export function generateKey(algorithm: number, lengthBits: number): Buffer {
  return randomBytes(keyBytes(algorithm, lengthBits));
}
