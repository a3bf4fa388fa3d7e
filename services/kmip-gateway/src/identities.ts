// The client certificates the gateway has seen key-lifecycle confirm, so a
// new connection of a known certificate needs no Identify round trip before
// its first answer (vCenter and ESXi open short connections, many at once).
//
// Only confirmations are kept: a refusal, or a failure to ask, is asked again
// every time. An entry is trusted only while the revocation stream is up, and
// only what that stream cannot have contradicted:
// - a revoked fingerprint is dropped when its notice arrives (and the open
//   connections of it are closed by the server, as before);
// - when the stream breaks, everything is dropped and nothing is kept until
//   it is back (notices may be missed meanwhile); it is dropped again when
//   it resumes;
// - an answer that was on its way while any notice arrived is not kept (it
//   may predate the revocation).
// key-lifecycle still checks the certificate on every operation.
import type { LifecycleBackend } from './backend';

export interface IdentityCacheOptions {
  /** Certificates kept; the least recently used go first (default 10,000; 0 keeps none). */
  maxEntries?: number;
}

export const DEFAULT_IDENTITY_CACHE_ENTRIES = 10_000;

/** `backend` with its identify answered from the cache while that is safe (see above). */
export function withIdentityCache(backend: LifecycleBackend, o: IdentityCacheOptions = {}): LifecycleBackend {
  const max = o.maxEntries ?? DEFAULT_IDENTITY_CACHE_ENTRIES;
  if (max <= 0) return backend;
  // A Map keeps insertion order: re-inserting on use makes its first key the least recently used.
  const known = new Map<string, Awaited<ReturnType<LifecycleBackend['identify']>>>();
  /** Revocation streams that are established now; entries are kept only while one is. */
  let live = 0;
  /** Moves on with every notice and every break, so an answer that raced one is not kept. */
  let generation = 0;
  const drop = (fingerprint?: string) => {
    generation++;
    if (fingerprint === undefined) known.clear();
    else known.delete(fingerprint);
  };
  return {
    ...backend,
    identify: async (r) => {
      const fp = r.caller?.certFingerprint ?? '';
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
