import { randomUUID } from 'crypto';
import { WrappingError } from '../../errors';
import type { Breaker } from '../../resilience/breaker';
import { HttpResponse, NetworkError } from './http';
import type { IamTokens } from './iam';
import type { Transport } from './transport';

// Key Protect v2 REST calls (shared/keyprotect-api.md): headers, the IAM
// token, one refresh-and-retry on 401, and the error body parsed.

export interface KpTarget {
  kind: 'keyprotect' | 'hpcs';
  /** Base URL of the key-management API, without /api/v2. */
  endpoint: string;
  iamEndpoint: string;
  instance: string;
}

/** A non-2xx answer from the key-management API. */
export class KpHttpError extends Error {
  override name = 'KpHttpError';
  constructor(readonly status: number, readonly code: string | undefined, readonly errorMsg: string | undefined, readonly retryAfter?: string) {
    super(`HTTP ${status}${code ? ` ${code}` : ''}`);
  }
}

export interface KpCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  /** Whether the call may be repeated safely (retries are allowed only then). */
  idempotent: boolean;
  prefer?: 'return=minimal' | 'return=representation';
  contentType?: string;
}

export class KpClient {
  private readonly base: URL;

  constructor(
    readonly target: KpTarget,
    readonly breaker: Breaker,
    private readonly transport: Transport,
    private readonly iam: IamTokens,
  ) {
    this.base = new URL('api/v2/', target.endpoint.endsWith('/') ? target.endpoint : `${target.endpoint}/`);
  }

  get host(): string {
    return this.base.host;
  }

  /** Resolves with a 2xx answer; rejects with KpHttpError, NetworkError or a WrappingError (breaker, IAM). */
  async call(apiKey: string, deadline: number, c: KpCall): Promise<HttpResponse> {
    const url = new URL(c.path, this.base);
    const body = c.body === undefined ? undefined : JSON.stringify(c.body);
    let token = '';
    for (let refreshed = false; ; refreshed = true) {
      const res = await this.transport.send(this.target.kind, this.breaker, async () => {
        token = await this.iam.token(this.target.iamEndpoint, apiKey, deadline);
        const headers: Record<string, string> = {
          authorization: `Bearer ${token}`,
          'bluemix-instance': this.target.instance,
          'correlation-id': randomUUID(),
          accept: 'application/json',
        };
        if (body !== undefined) headers['content-type'] = c.contentType ?? 'application/vnd.ibm.kms.key_action+json';
        if (c.prefer) headers.prefer = c.prefer;
        return { url, method: c.method, headers, body };
      }, c.idempotent, deadline);
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status >= 300 && res.status < 400) throw redirected(this.target.kind === 'hpcs' ? 'Hyper Protect Crypto Services' : 'Key Protect', this.base.host, res.status, 'provider.endpoint');
      // An expired or revoked token: the request was not processed, so one
      // retry with a fresh token is safe for any call.
      if (res.status === 401 && !refreshed) {
        this.iam.invalidate(this.target.iamEndpoint, apiKey, token);
        continue;
      }
      throw kpError(res);
    }
  }

  async json<T>(apiKey: string, deadline: number, c: KpCall): Promise<T> {
    const res = await this.call(apiKey, deadline, c);
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new KpHttpError(res.status, 'UNPARSABLE_BODY', 'the answer is not JSON');
    }
  }
}

/**
 * A redirect is never followed (http.ts): the bearer token or API key would
 * go to a host the allow-list never saw. The Location is not repeated.
 */
export function redirected(service: string, host: string, status: number, field: string): WrappingError {
  return new WrappingError('PROVIDER_REJECTED', `${service} at ${host} answered with a redirect (HTTP ${status}); crk-wrapping does not follow redirects: set ${field} to the service's own URL`);
}

function kpError(res: HttpResponse): KpHttpError {
  let code: string | undefined;
  let errorMsg: string | undefined;
  try {
    const b = JSON.parse(res.body) as { resources?: Array<{ errorMsg?: unknown; reasons?: Array<{ code?: unknown }> }> };
    const r = b.resources?.[0];
    if (typeof r?.errorMsg === 'string') errorMsg = r.errorMsg.slice(0, 300);
    if (typeof r?.reasons?.[0]?.code === 'string') code = r.reasons[0].code.trim();
  } catch {
    // not the error collection (a proxy's page, say): status only
  }
  const ra = res.headers['retry-after'];
  return new KpHttpError(res.status, code, errorMsg, Array.isArray(ra) ? ra[0] : ra);
}

export { NetworkError };
