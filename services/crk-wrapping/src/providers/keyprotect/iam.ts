import { createHash } from 'crypto';
import { WrappingError } from '../../errors';
import type { WrappingMetrics } from '../../metrics';
import type { Breaker } from '../../resilience/breaker';
import { readJson, redirected } from './client';
import { MalformedAnswer, NetworkError } from './http';
import type { Transport } from './transport';

// IAM access tokens per (IAM endpoint, API key): cached, refreshed before they
// expire (60 s before, as IBM's clients do; half the lifetime for short-lived
// tokens), one refresh in flight at a time. While the old token is still
// valid the refresh runs in the background and calls go on with the old
// token, so a slow or failing IAM delays nothing until the token expires.

const APIKEY_GRANT = 'urn:ibm:params:oauth:grant-type:apikey';
const REFRESH_MARGIN_MS = 60_000;

interface Entry {
  token: string;
  expiresAt: number;
  refreshAt: number;
  inflight?: Promise<void>;
}

export class IamTokens {
  private readonly cache = new Map<string, Entry>();
  /** The digest of the API key seen last: most calls in a row use the same one, and hashing it is per call otherwise. */
  private last?: { apiKey: string; digest: string };

  constructor(
    private readonly transport: Transport,
    private readonly breakerFor: (iamBase: string) => Breaker,
    private readonly metrics?: WrappingMetrics,
  ) {}

  async token(iamBase: string, apiKey: string, deadline: number): Promise<string> {
    const key = this.key(iamBase, apiKey);
    let e = this.cache.get(key);
    if (e && e.token && Date.now() < e.refreshAt) return e.token;
    if (!e) {
      e = { token: '', expiresAt: 0, refreshAt: 0 };
      this.cache.set(key, e);
    }
    const entry = e;
    entry.inflight ??= this.fetch(iamBase, apiKey, deadline)
      .then((t) => { Object.assign(entry, t); })
      .finally(() => { entry.inflight = undefined; });
    if (entry.token && Date.now() < entry.expiresAt) {
      // Due for refresh but still valid: refresh in the background (a failure is
      // counted in the metrics, and the next call past refreshAt tries again).
      entry.inflight.catch(() => undefined);
      return entry.token;
    }
    try {
      await entry.inflight;
    } catch (err) {
      if (entry.token && Date.now() < entry.expiresAt) return entry.token;
      throw err;
    }
    return entry.token;
  }

  /** Drops a token the provider rejected (401), unless a newer one replaced it already. */
  invalidate(iamBase: string, apiKey: string, token: string): void {
    const e = this.cache.get(this.key(iamBase, apiKey));
    if (e && e.token === token) {
      e.token = '';
      e.refreshAt = 0;
      e.expiresAt = 0;
    }
  }

  private async fetch(iamBase: string, apiKey: string, deadline: number): Promise<Omit<Entry, 'inflight'>> {
    const url = new URL('identity/token', iamBase.endsWith('/') ? iamBase : `${iamBase}/`);
    const breaker = this.breakerFor(url.origin);
    let res;
    let body: { access_token: string; expires_in: number } | undefined;
    try {
      // A 200 without a usable token is read inside the breaker, so it counts there as a failure.
      res = await this.transport.send('iam', breaker, () => ({
        url,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: APIKEY_GRANT, apikey: apiKey }).toString(),
      }), true, deadline, (r) => { if (r.status === 200) body = readJson(r, tokenShape) as typeof body; });
    } catch (e) {
      if (e instanceof MalformedAnswer) {
        this.metrics?.tokenRefreshes.inc({ result: 'error' });
        throw new WrappingError('PROVIDER_ERROR', `IAM at ${url.host} answered without a usable access token: it ${e.message}`, { cause: e });
      }
      this.metrics?.tokenRefreshes.inc({ result: 'unavailable' });
      if (e instanceof NetworkError) throw new WrappingError('PROVIDER_UNAVAILABLE', `cannot get an IAM token from ${url.host}: ${e.message}`, { cause: e });
      throw e;
    }
    if (res.status === 200 && body) {
      this.metrics?.tokenRefreshes.inc({ result: 'ok' });
      const now = Date.now();
      const lifetime = body.expires_in * 1000;
      return { token: body.access_token, expiresAt: now + lifetime, refreshAt: now + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 2) };
    }
    this.metrics?.tokenRefreshes.inc({ result: String(res.status) });
    if (res.status >= 300 && res.status < 400) throw redirected('IAM', url.host, res.status, 'provider.iam_endpoint');
    const detail = iamErrorDetail(res.body, apiKey);
    if (res.status === 429) throw new WrappingError('RATE_LIMITED', `IAM at ${url.host} is rate limiting token requests${detail}`);
    if (res.status >= 500) throw new WrappingError('PROVIDER_UNAVAILABLE', `IAM at ${url.host} answered ${res.status}${detail}`);
    throw new WrappingError('AUTH_FAILED', `IAM at ${url.host} rejected the API key of this tenant (HTTP ${res.status}${detail}); check credential_ref`);
  }

  /** Cache key of a token: the IAM endpoint and a digest of the API key (the key itself is not kept as a map key). */
  private key(iamBase: string, apiKey: string): string {
    if (this.last?.apiKey !== apiKey) this.last = { apiKey, digest: createHash('sha256').update(apiKey).digest('hex') };
    return `${iamBase}\n${this.last.digest}`;
  }
}

/** IAM's token answer: a non-empty access_token and a positive expires_in. */
function tokenShape(b: unknown): string | undefined {
  const t = b as { access_token?: unknown; expires_in?: unknown } | null;
  if (typeof t !== 'object' || t === null) return 'is not an object';
  if (typeof t.access_token !== 'string' || !t.access_token) return 'has no access_token';
  if (typeof t.expires_in !== 'number' || !(t.expires_in > 0)) return 'has no positive expires_in';
  return undefined;
}

/** ": BXNIM0415E Provided API key could not be found." from an IAM error body, never echoing the key. */
function iamErrorDetail(body: string, apiKey: string): string {
  try {
    const b = JSON.parse(body) as { errorCode?: unknown; errorMessage?: unknown };
    const text = [b.errorCode, b.errorMessage].filter((x) => typeof x === 'string').join(' ').slice(0, 200);
    return text ? `: ${text.split(apiKey).join('[redacted]')}` : '';
  } catch {
    return '';
  }
}
