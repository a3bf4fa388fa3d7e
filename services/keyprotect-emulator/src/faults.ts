import { REASONS } from './errors';

// Fault injection for the provider-facing paths (/api/v2 and /identity/token);
// the /_emulator control paths are never affected.

/**
 * What to do with an answer after the request was processed (the change it
 * made stays): a body that is not JSON, cut short, huge, dripping, stripped of
 * its fields or with fields of the wrong types; `lost`: the connection is
 * reset without an answer; `status`: errorStatus is answered instead.
 */
export type Corruption = 'none' | 'json' | 'truncate' | 'huge' | 'drip' | 'fields' | 'types' | 'lost' | 'status';

const CORRUPTIONS: readonly Corruption[] = ['none', 'json', 'truncate', 'huge', 'drip', 'fields', 'types', 'lost', 'status'];

export interface Faults {
  /** Added before every answer. */
  latencyMs: number;
  /** Share of requests (0..1) answered with errorStatus, unprocessed. */
  errorRate: number;
  errorStatus: number;
  /** When set, injected errors carry this reason code (error-messages.md) and its status instead of a bare errorStatus. */
  errorReason: string;
  /** Sent as Retry-After on injected 429 and 503 answers when > 0. */
  retryAfterSeconds: number;
  /** Every connection is reset, as if the service were unreachable. */
  down: boolean;
  /** Which paths the faults apply to: everything, only IAM (/identity/token) or only the Key Protect API (/api/v2). */
  scope: FaultScope;
  /** Only requests whose "METHOD /path?query" matches this regular expression ("" = all in scope). */
  match: string;
  /** Successful answers (2xx with a body, or the `lost`/`status` cases) are corrupted this way after processing. */
  corrupt: Corruption;
  /** Faults apply to this many more matching requests, then clear themselves (0 = no limit). */
  times: number;
}

export type FaultScope = 'all' | 'iam' | 'api';

export const NO_FAULTS: Faults = {
  latencyMs: 0, errorRate: 0, errorStatus: 503, errorReason: '', retryAfterSeconds: 0, down: false, scope: 'all', match: '', corrupt: 'none', times: 0,
};

/** True when the faults apply to a request for this path ("METHOD /path?query" for `match`). */
export function faultsApply(f: Faults, method: string, pathWithQuery: string): boolean {
  const pathname = pathWithQuery.split('?')[0];
  if (f.scope === 'iam' && pathname !== '/identity/token') return false;
  if (f.scope === 'api' && !pathname.startsWith('/api/')) return false;
  return !f.match || new RegExp(f.match).test(`${method} ${pathWithQuery}`);
}

/** True when any fault is set (NO_FAULTS otherwise). */
export function anyFault(f: Faults): boolean {
  return f.down || f.latencyMs > 0 || f.errorRate > 0 || f.corrupt !== 'none';
}

/** Validates a partial update (from the API, HTTP or flags); throws with a readable message. */
export function checkFaults(f: Partial<Record<keyof Faults, unknown>>): Partial<Faults> {
  const out: Partial<Faults> = {};
  const num = (k: keyof Faults, min: number, max: number): number | undefined => {
    const v = f[k];
    if (v === undefined) return undefined;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${k} must be a number between ${min} and ${max}`);
    return n;
  };
  const latency = num('latencyMs', 0, 600_000);
  if (latency !== undefined) out.latencyMs = latency;
  const rate = num('errorRate', 0, 1);
  if (rate !== undefined) out.errorRate = rate;
  const status = num('errorStatus', 400, 599);
  if (status !== undefined) out.errorStatus = Math.trunc(status);
  const ra = num('retryAfterSeconds', 0, 3600);
  if (ra !== undefined) out.retryAfterSeconds = ra;
  if (f.down !== undefined) {
    if (typeof f.down === 'boolean') out.down = f.down;
    else if (f.down === 'true' || f.down === 'false') out.down = f.down === 'true';
    else throw new Error('down must be true or false');
  }
  if (f.scope !== undefined) {
    if (f.scope !== 'all' && f.scope !== 'iam' && f.scope !== 'api') throw new Error('scope must be all, iam or api');
    out.scope = f.scope;
  }
  if (f.match !== undefined) {
    if (typeof f.match !== 'string' || f.match.length > 200) throw new Error('match must be a regular expression of at most 200 characters');
    try {
      void new RegExp(f.match);
    } catch {
      throw new Error('match is not a valid regular expression');
    }
    out.match = f.match;
  }
  if (f.errorReason !== undefined) {
    if (typeof f.errorReason !== 'string' || (f.errorReason !== '' && !(f.errorReason in REASONS))) throw new Error(`errorReason must be one of ${Object.keys(REASONS).join(', ')}`);
    out.errorReason = f.errorReason;
  }
  if (f.corrupt !== undefined) {
    if (!CORRUPTIONS.includes(f.corrupt as Corruption)) throw new Error(`corrupt must be one of ${CORRUPTIONS.join(', ')}`);
    out.corrupt = f.corrupt as Corruption;
  }
  const times = num('times', 0, 1_000_000);
  if (times !== undefined) out.times = Math.trunc(times);
  for (const k of Object.keys(f)) if (!(k in NO_FAULTS)) throw new Error(`unknown fault "${k}"`);
  return out;
}
