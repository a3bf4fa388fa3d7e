import { randomUUID } from 'crypto';
import { WrappingError } from '../../errors';
import type { Breaker } from '../../resilience/breaker';
import { HttpResponse, MalformedAnswer, NetworkError } from './http';
import type { IamTokens } from './iam';
import type { Transport } from './transport';

// Key Protect v2 REST calls (docs/keyprotect-api.md): headers, the IAM
// token, one refresh-and-retry on 401, the answer's JSON checked against the
// shape the call needs, and the error body parsed.

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
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly errorMsg: string | undefined,
    readonly retryAfter?: string,
    /** reasons[0].target.name: the field, header or query parameter the service objects to. */
    readonly target?: string,
    /** reasons[0].message. */
    readonly reason?: string,
  ) {
    super(`HTTP ${status}${code ? ` ${code}` : ''}`);
  }
}

/** Checks a parsed JSON answer: what is wrong with it, or undefined when it has what the call needs. */
export type Shape = (body: unknown) => string | undefined;

export interface KpCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  /** Whether the call may be repeated safely (retries are allowed only then). */
  idempotent: boolean;
  prefer?: 'return=minimal' | 'return=representation';
  contentType?: string;
  /** The call answers JSON of this shape; anything else is a MalformedAnswer, counted by the breaker. */
  shape?: Shape;
}

/** A 2xx answer read by the call's shape. */
interface ReadAnswer extends HttpResponse {
  json?: unknown;
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

  /** How long one attempt may take (an attempt given up on may still be processed until about then). */
  get callTimeoutMs(): number {
    return this.transport.callTimeoutMs;
  }

  /** Resolves with a 2xx answer; rejects with KpHttpError, NetworkError, MalformedAnswer or a WrappingError (breaker, IAM). */
  async call(apiKey: string, deadline: number, c: KpCall): Promise<HttpResponse> {
    const url = new URL(c.path, this.base);
    const body = c.body === undefined ? undefined : JSON.stringify(c.body);
    const shape = c.shape;
    const accept = shape && ((res: ReadAnswer) => { res.json = readJson(res, shape); });
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
      }, c.idempotent, deadline, accept);
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

  /** A 2xx answer's JSON, of the shape given (checked, so the cast holds for what the shape checks). */
  async json<T>(apiKey: string, deadline: number, c: KpCall & { shape: Shape }): Promise<T> {
    const res: ReadAnswer = await this.call(apiKey, deadline, c);
    return res.json as T;
  }
}

/** The JSON of an answer, checked by its shape; MalformedAnswer otherwise (no body text is repeated: it may hold key material). */
export function readJson(res: HttpResponse, shape: Shape): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    throw new MalformedAnswer(`answered HTTP ${res.status} with a body that is not JSON (${res.body.length} bytes)`, res.status);
  }
  const problem = shape(parsed);
  if (problem) throw new MalformedAnswer(`answered HTTP ${res.status} with JSON that ${problem}`, res.status);
  return parsed;
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
  let target: string | undefined;
  let reason: string | undefined;
  try {
    const b = JSON.parse(res.body) as { resources?: Array<{ errorMsg?: unknown; reasons?: Array<{ code?: unknown; message?: unknown; target?: { name?: unknown } }> }> };
    const r = Array.isArray(b?.resources) ? b.resources[0] : undefined;
    if (typeof r?.errorMsg === 'string') errorMsg = r.errorMsg.slice(0, 300);
    const first = Array.isArray(r?.reasons) ? r.reasons[0] : undefined;
    if (typeof first?.code === 'string') code = first.code.trim();
    if (typeof first?.message === 'string') reason = first.message.slice(0, 300);
    if (typeof first?.target?.name === 'string') target = first.target.name;
  } catch {
    // not the error collection (a proxy's page, say): status only
  }
  const ra = res.headers['retry-after'];
  return new KpHttpError(res.status, code, errorMsg, Array.isArray(ra) ? ra[0] : ra, target, reason);
}

export { MalformedAnswer, NetworkError };
