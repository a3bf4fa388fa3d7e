import type { ResilienceConfig } from '../../config';
import { isWrappingError, WrappingError } from '../../errors';
import type { WrappingMetrics } from '../../metrics';
import type { Breaker } from '../../resilience/breaker';
import { isTransientStatus, Outcome, parseRetryAfter, retryDelay, sleep } from '../../resilience/retry';
import { HttpClient, HttpResponse, MalformedAnswer, NetworkError } from './http';

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

/**
 * Errors the breaker counts: no whole answer, an outage status (5xx but 501),
 * or an answer that cannot be the service's (too large, not JSON, missing
 * fields): all say the endpoint is not working, not that the request was wrong.
 */
export function isOutage(e: unknown): boolean {
  return e instanceof NetworkError || e instanceof OutageStatus || e instanceof MalformedAnswer;
}

/**
 * Reads a 2xx answer the way the call needs it (JSON with its fields) and
 * returns what it found; throws MalformedAnswer otherwise. It runs inside the
 * breaker, so a garbage answer counts as a failure there.
 */
export type AcceptAnswer = (res: HttpResponse) => void;

/**
 * Sends one logical request: each attempt through the endpoint's breaker with
 * its own timeout, retried per the retry policy while the deadline allows.
 * Resolves with the last HTTP answer (any status); rejects with NetworkError
 * when no attempt got an answer, MalformedAnswer when the last answer could
 * not be read (a garbage answer is retried like a lost one), or BREAKER_OPEN.
 */
export class Transport {
  constructor(
    private readonly http: HttpClient,
    private readonly cfg: ResilienceConfig,
    private readonly metrics?: WrappingMetrics,
  ) {}

  /** How long one attempt may take. */
  get callTimeoutMs(): number {
    return this.cfg.callTimeoutMs;
  }

  async send(provider: string, breaker: Breaker, build: () => Attempt | Promise<Attempt>, idempotent: boolean, deadline: number, accept?: AcceptAnswer): Promise<HttpResponse> {
    let last: { res?: HttpResponse; err?: NetworkError | MalformedAnswer } | undefined;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WrappingError('PROVIDER_UNAVAILABLE', `${breaker.name}: no time left before the caller's deadline`);
      const a = await build();
      let outcome: Outcome;
      let res: HttpResponse | undefined;
      let netErr: NetworkError | MalformedAnswer | undefined;
      try {
        res = await breaker.run(async () => {
          const r = await this.http.request(a.url, a.method, { ...a.headers }, a.body, Math.min(this.cfg.callTimeoutMs, remaining));
          if (r.status >= 500 && isTransientStatus(r.status)) throw new OutageStatus(r);
          if (accept && r.status >= 200 && r.status < 300) accept(r);
          return r;
        });
      } catch (e) {
        if (e instanceof OutageStatus) res = e.res;
        else if (e instanceof NetworkError || e instanceof MalformedAnswer) netErr = e;
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
      } else if (netErr instanceof MalformedAnswer) {
        // An answer came, but not one the service would send (a proxy's page, a cut or garbled body): retried like a lost answer.
        this.metrics?.requests.inc({ provider, status: 'malformed' });
        outcome = { kind: 'network' };
      } else {
        const timedOut = netErr?.timedOut === true;
        this.metrics?.requests.inc({ provider, status: timedOut ? 'timeout' : 'network' });
        outcome = { kind: timedOut ? 'timeout' : 'network' };
      }
      const delay = retryDelay(outcome, attempt, idempotent, this.cfg.retry, deadline - Date.now());
      if (delay === undefined) {
        if (res) return res;
        throw netErr;
      }
      this.metrics?.retries.inc({ provider, cause: outcome.kind === 'status' ? String(outcome.status) : netErr instanceof MalformedAnswer ? 'malformed' : outcome.kind });
      await sleep(delay);
    }
  }
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
