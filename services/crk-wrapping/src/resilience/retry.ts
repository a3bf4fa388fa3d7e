import type { RetryConfig } from '../config';

// Retry policy for provider calls, as IBM's own SDKs apply it: only idempotent
// calls, only on connection errors, timeouts, 429 and 5xx other than 501;
// exponential backoff with jitter, and at least the Retry-After the service
// asks for. Never past the caller's deadline.

/** What one attempt ended with. */
export type Outcome =
  | { kind: 'status'; status: number; retryAfterMs?: number }
  | { kind: 'network' }
  | { kind: 'timeout' };

/** 429 and 5xx except 501 (Not Implemented is an answer, not an outage). */
export function isTransientStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

export function isTransient(o: Outcome): boolean {
  return o.kind !== 'status' || isTransientStatus(o.status);
}

/**
 * Whether to try again after `attempt` (1-based) ended with `outcome`, and
 * after how long. `remainingMs` is the time left before the caller's deadline.
 */
export function retryDelay(
  outcome: Outcome,
  attempt: number,
  idempotent: boolean,
  cfg: RetryConfig,
  remainingMs: number,
  random: () => number = Math.random,
): number | undefined {
  if (!idempotent || attempt >= cfg.maxAttempts || !isTransient(outcome)) return undefined;
  const exp = Math.min(cfg.maxDelayMs, cfg.baseDelayMs * 2 ** (attempt - 1));
  let delay = exp / 2 + (random() * exp) / 2;
  if (outcome.kind === 'status' && outcome.retryAfterMs !== undefined) {
    // A service asking for longer than we would ever wait gets its answer now.
    if (outcome.retryAfterMs > cfg.maxDelayMs) return undefined;
    delay = Math.max(delay, outcome.retryAfterMs);
  }
  return delay < remainingMs ? delay : undefined;
}

/** Retry-After as delta-seconds or an HTTP date; undefined if absent or unreadable. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
