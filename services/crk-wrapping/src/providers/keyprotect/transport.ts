import type { ResilienceConfig } from '../../config';
import { isWrappingError, WrappingError } from '../../errors';
import type { WrappingMetrics } from '../../metrics';
import type { Breaker } from '../../resilience/breaker';
import { isTransientStatus, Outcome, parseRetryAfter, retryDelay, sleep } from '../../resilience/retry';
import { HttpClient, HttpResponse, NetworkError } from './http';

export interface Attempt {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** A 5xx answer, thrown inside the breaker so it counts as a failure there. */
class OutageStatus extends Error {
  constructor(readonly res: HttpResponse) {
    super(`HTTP ${res.status}`);
  }
}

/** Errors the breaker counts: no answer at all, or an outage status (5xx but 501). */
export function isOutage(e: unknown): boolean {
  return e instanceof NetworkError || e instanceof OutageStatus;
}

/**
 * Sends one logical request: each attempt through the endpoint's breaker with
 * its own timeout, retried per the retry policy while the deadline allows.
 * Resolves with the last HTTP answer (any status); rejects with NetworkError
 * when no attempt got an answer, or BREAKER_OPEN.
 */
export class Transport {
  constructor(
    private readonly http: HttpClient,
    private readonly cfg: ResilienceConfig,
    private readonly metrics?: WrappingMetrics,
  ) {}

  async send(provider: string, breaker: Breaker, build: () => Attempt | Promise<Attempt>, idempotent: boolean, deadline: number): Promise<HttpResponse> {
    let last: { res?: HttpResponse; err?: NetworkError } | undefined;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WrappingError('PROVIDER_UNAVAILABLE', `${breaker.name}: no time left before the caller's deadline`);
      const a = await build();
      let outcome: Outcome;
      let res: HttpResponse | undefined;
      let netErr: NetworkError | undefined;
      try {
        res = await breaker.run(async () => {
          const r = await this.http.request(a.url, a.method, { ...a.headers }, a.body, Math.min(this.cfg.callTimeoutMs, remaining));
          if (r.status >= 500 && isTransientStatus(r.status)) throw new OutageStatus(r);
          return r;
        });
      } catch (e) {
        if (e instanceof OutageStatus) res = e.res;
        else if (e instanceof NetworkError) netErr = e;
        else if (last && isWrappingError(e) && e.reason === 'BREAKER_OPEN') {
          // Our own failures opened the breaker between attempts: report what the provider did.
          if (last.res) return last.res;
          throw last.err;
        } else throw e;
      }
      last = { res, err: netErr };
      if (res) {
        this.metrics?.requests.inc({ provider, status: String(res.status) });
        outcome = { kind: 'status', status: res.status, retryAfterMs: parseRetryAfter(headerValue(res.headers['retry-after'])) };
      } else {
        this.metrics?.requests.inc({ provider, status: netErr?.timedOut ? 'timeout' : 'network' });
        outcome = { kind: netErr?.timedOut ? 'timeout' : 'network' };
      }
      const delay = retryDelay(outcome, attempt, idempotent, this.cfg.retry, deadline - Date.now());
      if (delay === undefined) {
        if (res) return res;
        throw netErr;
      }
      this.metrics?.retries.inc({ provider, cause: outcome.kind === 'status' ? String(outcome.status) : outcome.kind });
      await sleep(delay);
    }
  }
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
