// The optional password of a KMIP client certificate (docs/kmip-gateway.md,
// "Client passwords"): vCenter, given a username and password for a KMS,
// sends them as a KMIP Credential in every request header. The CLI hashes
// the password (scrypt, a salt of its own, libs/common password.ts); only the
// hash is stored, in the certificate's Redis hash, and it never leaves
// key-lifecycle. The gateway asks Identify to check a password once per
// connection at most (and keeps what was verified, see its identities.ts), so
// scrypt runs here only for a password the gateway has not seen verified.
//
// scrypt takes ~0.3 s of a libuv thread and 32 MiB per check: checks run on
// the thread pool (crypto.scrypt, asynchronous) a few at a time, a bounded
// number wait, and any more are refused at once (RESOURCE_EXHAUSTED, which the
// client reads as "temporarily unavailable"), so a flood of passwords cannot
// take key-lifecycle's memory or its thread pool. Only a registered
// certificate's connections can cause a check at all.
import { createHash } from 'crypto';
import { grpc, MAX_PASSWORD_LENGTH, parsePasswordHash, ServiceError, verifyPassword } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import { WorkGate } from './work-gate';

/** Checks at once (each 32 MiB and ~0.3 s of one of libuv's 4 threads; console sign-ins take up to 2 more). */
export const CONCURRENT_CHECKS = 2;
/** Checks waiting beyond those: at ~0.3 s each, a waiting check is answered within about 2.5 s. */
export const WAITING_CHECKS = 16;

/** A stored hash as it may be set: the form and a cost at least keywarden's default; INVALID_ARGUMENT otherwise. */
export function checkPasswordHash(hash: string): string {
  try {
    parsePasswordHash(hash);
  } catch (e) {
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, (e as Error).message);
  }
  return hash;
}

/**
 * Names the password setting without saying anything about the password: a
 * digest of the stored hash (salted, so setting the same password again
 * gives a new epoch too).
 */
export function passwordEpoch(hash: string): string {
  return createHash('sha256').update(hash).digest('base64url').slice(0, 16);
}

/** The refusal of a check when the gate is full. */
export const tooManyPasswordChecks = (): ServiceError => new ServiceError(grpc.status.RESOURCE_EXHAUSTED,
  'too many client passwords being checked at once; retry in a moment', ResultReason.GeneralFailure);

/** Bounds the memory and threads password checks take (see above). */
export class CheckGate extends WorkGate {
  constructor(concurrent = CONCURRENT_CHECKS, maxWaiting = WAITING_CHECKS) {
    super(concurrent, maxWaiting, tooManyPasswordChecks);
  }
}

/** The process's gate: every Identify with a password goes through it. */
export const passwordChecks = new CheckGate();

export const WRONG_PASSWORD =
  'the password of the request\'s KMIP Credential (Username and Password) is not the one set for this client certificate ' +
  '(keywarden cert set-password; in vCenter, the key provider\'s KMS password)';

/** The refusal of a wrong password: Authentication Not Successful. */
export function wrongPassword(): ServiceError {
  return new ServiceError(grpc.status.UNAUTHENTICATED, WRONG_PASSWORD, ResultReason.AuthenticationNotSuccessful);
}

/**
 * Whether `password` is the certificate's (`hash`), through the gate (which
 * may refuse with RESOURCE_EXHAUSTED). A password longer than any that can
 * be set is wrong without hashing it.
 */
export async function checkClientPassword(hash: string, password: string, gate: WorkGate = passwordChecks): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  return gate.run(() => verifyPassword(password, hash).catch(() => false));
}
