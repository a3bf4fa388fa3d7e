import http from 'http';
import https from 'https';
import type { AddressInfo } from 'net';
import { Api, Limits } from './api';
import { bareError, KpError } from './errors';
import { checkFaults, Faults, faultsApply, NO_FAULTS } from './faults';
import { Iam } from './iam';
import { Store } from './store';

export interface EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Persist state to <dataDir>/keyprotect-emulator.json across restarts. */
  dataDir?: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Accepted IAM API keys; when absent any non-empty key is accepted. */
  apiKeys?: string[];
  /** Lifetime of issued access tokens (IBM: 3600). */
  tokenTtlSeconds?: number;
  /** Service limits, off by default (see Limits). */
  limits?: Partial<Limits>;
  /** Faults active from the start. */
  faults?: Partial<Faults>;
}

export interface EmulatorFaults {
  set(f: Partial<Faults>): void;
  clear(): void;
  readonly current: Readonly<Faults>;
}

export interface Emulator {
  /** Base URL: both the key-management endpoint and the IAM endpoint. */
  url: string;
  port: number;
  close(): Promise<void>;
  faults: EmulatorFaults;
  /** Invalidates every access token issued so far (clients then see 401). */
  expireTokens(): void;
  /** Counters for tests. */
  stats(): { tokensIssued: number; requests: number };
}

const MAX_BODY = 1024 * 1024;

/** Starts the Key Protect emulator (dev and test only). */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const store = new Store(opts.dataDir);
  const iam = new Iam(opts.apiKeys ? new Set(opts.apiKeys) : undefined, opts.tokenTtlSeconds ?? 3600);
  const api = new Api(store, {
    rotationIntervalSeconds: opts.limits?.rotationIntervalSeconds ?? 0,
    actionCooldownSeconds: opts.limits?.actionCooldownSeconds ?? 0,
  });
  let faults: Faults = { ...NO_FAULTS, ...checkFaults(opts.faults ?? {}) };
  let requests = 0;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requests++;
    route(req, res).catch((err: unknown) => {
      // Only a bug reaches here; answer like the service's catch-all.
      if (!res.headersSent) send(res, 500, bareError(500, `emulator error: ${(err as Error).message}`));
      else res.destroy();
    });
  };

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const correlation = req.headers['correlation-id'];
    if (typeof correlation === 'string') res.setHeader('correlation-id', correlation);

    if (url.pathname.startsWith('/_emulator/')) return control(req, res, url.pathname);

    // Faults apply to what a provider talks to (all of it, or only IAM or only the API: faults.scope).
    const f = faultsApply(faults, url.pathname) ? faults : NO_FAULTS;
    if (f.down) {
      req.socket.destroy();
      return;
    }
    if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (f.errorRate > 0 && Math.random() < f.errorRate) {
      await readBody(req).catch(() => undefined);
      const headers: Record<string, string> = {};
      if (f.retryAfterSeconds > 0 && (f.errorStatus === 429 || f.errorStatus === 503)) headers['retry-after'] = String(f.retryAfterSeconds);
      send(res, f.errorStatus, bareError(f.errorStatus, 'injected fault'), headers);
      return;
    }

    if (url.pathname === '/identity/token') {
      if (req.method !== 'POST') return send(res, 405, { errorCode: 'BXNIM0105E', errorMessage: 'Method not allowed' });
      const raw = await readBody(req);
      const r = iam.issue(new URLSearchParams(raw.toString('utf8')));
      if ('status' in r) return send(res, r.status, r.body);
      return send(res, 200, r.body);
    }

    if (url.pathname === '/api/v2' || url.pathname.startsWith('/api/v2/')) {
      const path = url.pathname.slice('/api/v2/'.length).split('/').filter((s) => s !== '').map(decodeURIComponent);
      const raw = await readBody(req);
      try {
        const subject = iam.verify(req.headers.authorization);
        if (!subject) throw new KpError('UNAUTHORIZED_ERR', 'Unauthorized');
        const instance = req.headers['bluemix-instance'];
        if (typeof instance !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(instance)) {
          throw new KpError('INVALID_FIELD_ERR', 'Request could not be processed', 'The field `bluemix-instance` must be: a service instance GUID', { type: 'header', name: 'bluemix-instance' });
        }
        let body: unknown;
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new KpError('BAD_BODY_ERR', 'Request could not be processed', 'Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters: the body is not JSON');
          }
        }
        const out = api.handle({ method: req.method ?? 'GET', path, query: url.searchParams, headers: req.headers, body, subject, inst: store.instance(instance) });
        if (out.body === undefined) {
          res.writeHead(out.status, out.headers);
          res.end();
        } else {
          send(res, out.status, out.body, out.headers);
        }
      } catch (e) {
        if (e instanceof KpError) return send(res, e.status, e.body());
        throw e;
      }
      return;
    }
    send(res, 404, bareError(404, `no such path ${url.pathname}`));
  }

  // GET/POST/DELETE /_emulator/faults, POST /_emulator/tokens/expire, GET /_emulator/stats
  async function control(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const raw = await readBody(req);
    if (path === '/_emulator/faults') {
      if (req.method === 'DELETE') faults = { ...NO_FAULTS };
      else if (req.method === 'POST' || req.method === 'PUT') {
        try {
          faults = { ...faults, ...checkFaults(JSON.parse(raw.toString('utf8') || '{}') as Record<keyof Faults, unknown>) };
        } catch (e) {
          return send(res, 400, { error: (e as Error).message });
        }
      }
      return send(res, 200, faults);
    }
    if (path === '/_emulator/tokens/expire' && req.method === 'POST') {
      iam.expireAll();
      return send(res, 204, undefined);
    }
    if (path === '/_emulator/stats') return send(res, 200, { tokensIssued: iam.issued, requests });
    send(res, 404, { error: 'unknown control path' });
  }

  const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : http.createServer(handler);
  // Clients keep connections for a while; outlive their idle timeout so a
  // reused socket is not closed under them.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    faults: {
      set: (f) => { faults = { ...faults, ...checkFaults(f) }; },
      clear: () => { faults = { ...NO_FAULTS }; },
      get current() { return faults; },
    },
    expireTokens: () => iam.expireAll(),
    stats: () => ({ tokensIssued: iam.issued, requests }),
    close: () => new Promise<void>((resolve) => {
      store.flush();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}
