import http from 'http';
import https from 'https';
import tls from 'tls';

// A small keep-alive HTTP(S) client for the provider REST calls: one agent per
// origin, a timeout per request, a bounded response body. It never follows a
// redirect (node's http.request does not): a 3xx is handed back like any other
// answer, and the callers refuse it, so a request and its token or API key go
// only to the host that passed the allow-list (hosts.ts).

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The request never got a whole HTTP answer: connection refused/reset, DNS, TLS, timeout, an answer cut off. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(message: string, public readonly code: string, public readonly timedOut = false) {
    super(message);
  }
}

/**
 * An answer that arrived but cannot be what the service sends: larger than
 * MAX_RESPONSE, not JSON, or JSON without the fields the call needs (checked
 * by the caller, transport.ts). Counted by the breaker like an outage.
 */
export class MalformedAnswer extends Error {
  override name = 'MalformedAnswer';
  constructor(message: string, public readonly status?: number) {
    super(message);
  }
}

/** The largest answer read; none of the calls crk-wrapping makes comes near it. */
export const MAX_RESPONSE = 4 * 1024 * 1024;

/** What every request to one origin shares: its agent and the parts of its URL http.request wants. */
interface Origin {
  agent: http.Agent;
  secure: boolean;
  hostname: string;
  port: string;
}

export class HttpClient {
  private readonly origins = new Map<string, Origin>();
  /**
   * The TLS context trusting the system roots plus the extra CA, built once.
   * Handing the agent `ca` instead would make Node rebuild its connection
   * pool key from every root certificate on every request, and parse them
   * again for every new socket.
   */
  private readonly secureContext?: tls.SecureContext;

  constructor(ca?: Buffer) {
    if (ca) this.secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, ca.toString()] });
  }

  request(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<HttpResponse> {
    const o = this.origin(url);
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    if (payload) headers['content-length'] = String(payload.length);
    const options: https.RequestOptions = { hostname: o.hostname, port: o.port, path: url.pathname + url.search, method, headers, agent: o.agent };
    return new Promise((resolve, reject) => {
      let settled = false;
      const req = (o.secure ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) {
            fail(new MalformedAnswer(`answered HTTP ${res.statusCode ?? 0} with more than ${MAX_RESPONSE} bytes`, res.statusCode));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8') });
        });
        // The connection closed in the middle of the body (a length was promised, or chunks were under way).
        const cut = () => fail(new NetworkError(`${method} ${url.host}: the answer (HTTP ${res.statusCode ?? 0}) was cut off after ${size} bytes`, 'ETRUNCATED'));
        res.on('error', cut);
        res.on('close', () => { if (!res.complete) cut(); });
      });
      // One bound for the whole exchange, body included: a service that starts an answer and drips it still times out.
      const timer = setTimeout(() => fail(new NetworkError(`${method} ${url.host} timed out after ${timeoutMs} ms`, 'ETIMEDOUT', true)), timeoutMs);
      function fail(e: Error): void {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(e instanceof NetworkError || e instanceof MalformedAnswer ? e : new NetworkError(`${method} ${url.host} failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`, (e as NodeJS.ErrnoException).code ?? 'ENETWORK'));
      }
      req.on('error', fail);
      req.end(payload);
    });
  }

  close(): void {
    for (const o of this.origins.values()) o.agent.destroy();
    this.origins.clear();
  }

  /** One keep-alive agent per origin. */
  private origin(url: URL): Origin {
    const key = url.origin;
    let o = this.origins.get(key);
    if (!o) {
      const secure = url.protocol === 'https:';
      const opts = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 30_000, scheduling: 'lifo' as const };
      o = {
        agent: secure ? new https.Agent({ ...opts, secureContext: this.secureContext }) : new http.Agent(opts),
        secure,
        // http.request wants an IPv6 literal without its brackets.
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port,
      };
      this.origins.set(key, o);
    }
    return o;
  }
}
