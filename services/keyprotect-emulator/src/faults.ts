// Fault injection for the provider-facing paths (/api/v2 and /identity/token);
// the /_emulator control paths are never affected.

export interface Faults {
  /** Added before every answer. */
  latencyMs: number;
  /** Share of requests (0..1) answered with errorStatus. */
  errorRate: number;
  errorStatus: number;
  /** Sent as Retry-After on injected 429 and 503 answers when > 0. */
  retryAfterSeconds: number;
  /** Every connection is reset, as if the service were unreachable. */
  down: boolean;
  /** Which paths the faults apply to: everything, only IAM (/identity/token) or only the Key Protect API (/api/v2). */
  scope: FaultScope;
}

export type FaultScope = 'all' | 'iam' | 'api';

export const NO_FAULTS: Faults = { latencyMs: 0, errorRate: 0, errorStatus: 503, retryAfterSeconds: 0, down: false, scope: 'all' };

/** True when the faults apply to a request for this path. */
export function faultsApply(f: Faults, pathname: string): boolean {
  if (f.scope === 'iam') return pathname === '/identity/token';
  if (f.scope === 'api') return pathname.startsWith('/api/');
  return true;
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
  for (const k of Object.keys(f)) if (!(k in NO_FAULTS)) throw new Error(`unknown fault "${k}"`);
  return out;
}
