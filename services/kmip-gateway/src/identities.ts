// The client certificates the gateway has seen key-lifecycle confirm, so a
// new connection of a known certificate needs no Identify round trip before
// its first answer (vCenter and ESXi open short connections, many at once);
// and the client passwords it has seen key-lifecycle verify, so a new
// connection with a verified password costs no scrypt run (credentials.ts).
//
// Only confirmations are kept (and, for at most 30 s, a wrong password, so a
// misconfigured client retrying does not cost a check each time): a
// refusal, or a failure to ask, is asked again every time. An entry is
// trusted only while the revocation stream is up, and only what that stream
// cannot have contradicted:
// - a revoked fingerprint (removed, or its password set or cleared) is
//   dropped when its notice arrives, with its passwords (and the open
//   connections of it are closed by the server, as before);
// - when the stream breaks, everything is dropped and nothing is kept until
//   it is back (notices may be missed meanwhile); it is dropped again when
//   it resumes;
// - an answer that was on its way while any notice arrived is not kept (it
//   may predate the revocation).
// key-lifecycle still checks the certificate on every operation.
//
// Password checks of the same certificate and password that overlap share one
// Identify call; at most a few different passwords of one certificate are
// checked at once (more are refused at once, as "temporarily unavailable"), so
// one client cannot queue scrypt work in key-lifecycle. Passwords are kept as
// HMACs under a key of this process only (passwordDigest).
import { grpc, isGrpcError } from '@keywarden/common';
import type { LifecycleBackend } from './backend';
import { passwordDigest } from './credentials';

export interface IdentityCacheOptions {
  /** Certificates kept; the least recently used go first (default 10,000; 0 keeps none). */
  maxEntries?: number;
  /** Verified (certificate, password) pairs kept; the least recently used go first (default 10,000; 0 keeps none). */
  passwordEntries?: number;
  /** How long a verified password is trusted for new connections (default 5 minutes); a wrong one is kept at most 30 s. */
  passwordTtlMs?: number;
  /** Different passwords of one certificate checked at once; more are refused at once (default 4). */
  maxPasswordChecksPerCertificate?: number;
}

export const DEFAULT_IDENTITY_CACHE_ENTRIES = 10_000;
export const DEFAULT_PASSWORD_CACHE_ENTRIES = 10_000;
export const DEFAULT_PASSWORD_TTL_MS = 5 * 60_000;
export const WRONG_PASSWORD_TTL_MS = 30_000;
export const DEFAULT_PASSWORD_CHECKS_PER_CERTIFICATE = 4;

type Answer = Awaited<ReturnType<LifecycleBackend['identify']>>;

/** What key-lifecycle said about one password: the answer, or the refusal of a wrong one. */
interface Verdict {
  answer?: Answer;
  refusal?: unknown;
  expires: number;
}

/** The refusal of a password check beyond the per-certificate bound, shaped as a gRPC error (the client reads "temporarily unavailable"). */
function tooManyChecks(): Error {
  const details = 'too many passwords of this client certificate being checked at once';
  return Object.assign(new Error(details), { code: grpc.status.RESOURCE_EXHAUSTED, details, metadata: new grpc.Metadata() });
}

const isWrongPassword = (e: unknown) => isGrpcError(e) && e.code === grpc.status.UNAUTHENTICATED;

/** `backend` with its identify answered from the cache while that is safe (see above). */
export function withIdentityCache(backend: LifecycleBackend, o: IdentityCacheOptions = {}): LifecycleBackend {
  const max = o.maxEntries ?? DEFAULT_IDENTITY_CACHE_ENTRIES;
  const maxPasswords = o.passwordEntries ?? DEFAULT_PASSWORD_CACHE_ENTRIES;
  const passwordTtl = o.passwordTtlMs ?? DEFAULT_PASSWORD_TTL_MS;
  const perCertificate = o.maxPasswordChecksPerCertificate ?? DEFAULT_PASSWORD_CHECKS_PER_CERTIFICATE;
  // A Map keeps insertion order: re-inserting on use makes its first key the least recently used.
  const known = new Map<string, Answer>();
  /** By `${fingerprint}\0${password digest}`. */
  const verdicts = new Map<string, Verdict>();
  /** Password checks in flight: fingerprint → password digest → the shared answer. */
  const checking = new Map<string, Map<string, Promise<Answer>>>();
  /** Revocation streams that are established now; entries are kept only while one is. */
  let live = 0;
  /** Moves on with every notice and every break, so an answer that raced one is not kept. */
  let generation = 0;
  const drop = (fingerprint?: string) => {
    generation++;
    if (fingerprint === undefined) {
      known.clear();
      verdicts.clear();
      // Checks in flight finish for their callers; later callers ask again.
      checking.clear();
      return;
    }
    known.delete(fingerprint);
    checking.delete(fingerprint);
    const prefix = `${fingerprint}\0`;
    for (const k of verdicts.keys()) if (k.startsWith(prefix)) verdicts.delete(k);
  };

  const remember = (key: string, v: Verdict, seen: number) => {
    if (live === 0 || maxPasswords <= 0 || seen !== generation) return;
    verdicts.set(key, v);
    if (verdicts.size > maxPasswords) verdicts.delete(verdicts.keys().next().value as string);
  };

  const checkPassword = (r: Parameters<LifecycleBackend['identify']>[0], fp: string, password: string): Promise<Answer> => {
    const digest = passwordDigest(fp, password).toString('base64');
    const key = `${fp}\0${digest}`;
    if (live > 0) {
      const v = verdicts.get(key);
      if (v && v.expires > Date.now()) {
        verdicts.delete(key);
        verdicts.set(key, v);
        return v.refusal !== undefined ? Promise.reject(v.refusal) : Promise.resolve(v.answer as Answer);
      }
      if (v) verdicts.delete(key);
    }
    let inFlight = checking.get(fp);
    const shared = inFlight?.get(digest);
    if (shared) return shared;
    if (inFlight && inFlight.size >= perCertificate) return Promise.reject(tooManyChecks());
    const seen = generation;
    const p: Promise<Answer> = backend.identify(r).then(
      (answer) => {
        remember(key, { answer, expires: Date.now() + passwordTtl }, seen);
        return answer;
      },
      (e: unknown) => {
        if (isWrongPassword(e)) remember(key, { refusal: e, expires: Date.now() + Math.min(passwordTtl, WRONG_PASSWORD_TTL_MS) }, seen);
        throw e;
      },
    ).finally(() => {
      const m = checking.get(fp);
      if (m?.get(digest) !== p) return;
      m.delete(digest);
      if (m.size === 0) checking.delete(fp);
    });
    if (!inFlight) checking.set(fp, (inFlight = new Map()));
    inFlight.set(digest, p);
    return p;
  };

  return {
    ...backend,
    identify: async (r) => {
      const fp = r.caller?.certFingerprint ?? '';
      if (r.password && fp) return checkPassword(r, fp, r.password);
      if (max <= 0) return backend.identify(r);
      if (live > 0 && fp) {
        const hit = known.get(fp);
        if (hit) {
          known.delete(fp);
          known.set(fp, hit);
          return hit;
        }
      }
      const seen = generation;
      const res = await backend.identify(r);
      if (live > 0 && fp && seen === generation) {
        known.set(fp, res);
        if (known.size > max) known.delete(known.keys().next().value as string);
      }
      return res;
    },
    watchAccessRevocations: (onRevoked, onResumed, onLive) => {
      let up = false;
      const stop = backend.watchAccessRevocations(
        (fp) => {
          // Before the server closes that certificate's connections: a new one must ask again.
          drop(fp);
          onRevoked(fp);
        },
        () => {
          drop();
          onResumed?.();
        },
        (isLive) => {
          if (isLive !== up) live += isLive ? 1 : -1;
          up = isLive;
          drop();
          onLive?.(isLive);
        },
      );
      return () => {
        if (up) live--;
        up = false;
        drop();
        stop();
      };
    },
  };
}
