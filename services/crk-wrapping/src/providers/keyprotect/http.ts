import http from 'http';
import https from 'https';
import tls from 'tls';

// A small keep-alive HTTP(S) client for the provider REST calls: one agent per
// origin, a timeout per request, a bounded response body.

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The request never got an HTTP answer: connection refused/reset, DNS, TLS, timeout. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(message: string, public readonly code: string, public readonly timedOut = false) {
    super(message);
  }
}

const MAX_RESPONSE = 4 * 1024 * 1024;

export class HttpClient {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly ca?: Buffer) {}

  request(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<HttpResponse> {
    const secure = url.protocol === 'https:';
    const agent = this.agent(url.origin, secure);
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    if (payload) headers['content-length'] = String(payload.length);
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) {
            req.destroy(new NetworkError(`response from ${url.host} exceeds ${MAX_RESPONSE} bytes`, 'ETOOBIG'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      });
      const timer = setTimeout(() => req.destroy(new NetworkError(`${method} ${url.host} timed out after ${timeoutMs} ms`, 'ETIMEDOUT', true)), timeoutMs);
      function fail(e: Error): void {
        clearTimeout(timer);
        reject(e instanceof NetworkError ? e : new NetworkError(`${method} ${url.host} failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`, (e as NodeJS.ErrnoException).code ?? 'ENETWORK'));
      }
      req.on('error', fail);
      req.end(payload);
    });
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  private agent(origin: string, secure: boolean): http.Agent {
    let a = this.agents.get(origin);
    if (!a) {
      const opts = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 30_000, scheduling: 'lifo' as const };
      a = secure ? new https.Agent({ ...opts, ca: this.ca ? [...tls.rootCertificates, this.ca.toString()] : undefined }) : new http.Agent(opts);
      this.agents.set(origin, a);
    }
    return a;
  }
}
