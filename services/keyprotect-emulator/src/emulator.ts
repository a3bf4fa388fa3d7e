import http from 'http';
import https from 'https';
import type { AddressInfo } from 'net';
import { Api, Dialect, IBM_LIMITS, KEY_PROTECT, Limits, newKey } from './api';
import { bareError, KpError, ReasonCode, Unauthorized, UnsupportedMediaType } from './errors';
import { anyFault, checkFaults, Corruption, Faults, faultsApply, NO_FAULTS } from './faults';
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
  /** Service limits, IBM's by default (one rotation an hour, 30 s before enable/restore); 0 switches one off. */
  limits?: Partial<Limits>;
  /** Instances that exist from the start; any other is refused (401) until created. */
  instances?: string[];
  /** Behaviour where Key Protect and HPCS may differ (default: Key Protect's). */
  dialect?: Partial<Dialect>;
  /** Faults active from the start. */
  faults?: Partial<Faults>;
}

/** Options of the seeding fast path (tests of large instances). */
export interface SeedOptions {
  /** Standard keys (default) or root keys. */
  extractable?: boolean;
  /** The i-th key's name (default `seed-<i>`). */
  name?: (i: number) => string;
  /** Creation time of every seeded key (default now). */
  createdAt?: Date;
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
  /** Provisions a service instance (idempotent); requests naming any other instance get 401. */
  createInstance(id: string): void;
  /** Adds `count` keys to an instance without HTTP (large-instance tests); returns their ids. */
  seedKeys(instance: string, count: number, opts?: SeedOptions): string[];
  /** Keys of an instance, optionally only standard or root keys, of one name, deleted ones too (tests count what was stored). */
  keyCount(instance: string, opts?: { extractable?: boolean; includeDeleted?: boolean; name?: string }): number;
  /** Ids of an instance's live keys of one name. */
  keysNamed(instance: string, name: string): string[];
  /** Counters for tests. */
  stats(): { tokensIssued: number; requests: number };
}

const MAX_BODY = 1024 * 1024;
const INSTANCE_ID = /^[A-Za-z0-9-]{1,64}$/;
/** A JSON request body: no content-type (IBM's Go client sends none), application/json or one of the service's vnd types. */
const JSON_TYPE = /^(application\/json|application\/vnd\.ibm\.kms\.[a-z_]+\+json)$/;

/** Starts the Key Protect emulator (dev and test only). */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const store = new Store(opts.dataDir);
  const createInstance = (id: string): void => {
    if (!INSTANCE_ID.test(id)) throw new Error(`instance id "${id}" must be 1 to 64 letters, digits or "-"`);
    store.createInstance(id);
  };
  for (const id of opts.instances ?? []) createInstance(id);
  const iam = new Iam(opts.apiKeys ? new Set(opts.apiKeys) : undefined, opts.tokenTtlSeconds ?? 3600);
  const api = new Api(store, { ...IBM_LIMITS, ...opts.limits }, { ...KEY_PROTECT, ...opts.dialect });
  let faults: Faults = { ...NO_FAULTS, ...checkFaults(opts.faults ?? {}) };
  let requests = 0;

  /** The faults for this request, counting it against `times`. */
  const faultsFor = (method: string, pathWithQuery: string): Faults => {
    if (!anyFault(faults) || !faultsApply(faults, method, pathWithQuery)) return NO_FAULTS;
    const f = faults;
    if (f.times > 0) faults = f.times === 1 ? { ...NO_FAULTS } : { ...f, times: f.times - 1 };
    return f;
  };

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

    // Faults apply to what a provider talks to (all of it, or only IAM or only the API: faults.scope, faults.match).
    const f = faultsFor(req.method ?? 'GET', url.pathname + url.search);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => answer(req, res, f, status, body, headers);
    if (f.down) {
      req.socket.destroy();
      return;
    }
    // The request is received whole first: a slow service (latencyMs) still processes
    // what it received, even when the client has given up waiting meanwhile.
    const raw = await readBody(req);
    if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (f.errorRate > 0 && Math.random() < f.errorRate) {
      const headers: Record<string, string> = {};
      if (f.retryAfterSeconds > 0 && (f.errorStatus === 429 || f.errorStatus === 503)) headers['retry-after'] = String(f.retryAfterSeconds);
      if (f.errorReason) {
        const e = new KpError(f.errorReason as ReasonCode, 'Request could not be processed');
        send(res, e.status, e.body(), headers);
      } else {
        send(res, f.errorStatus, bareError(f.errorStatus, 'injected fault'), headers);
      }
      return;
    }

    if (url.pathname === '/identity/token') {
      if (req.method !== 'POST') return send(res, 405, { errorCode: 'BXNIM0105E', errorMessage: 'Method not allowed' });
      const r = iam.issue(new URLSearchParams(raw.toString('utf8')));
      if ('status' in r) return send(res, r.status, r.body);
      return reply(200, r.body);
    }

    if (url.pathname === '/api/v2' || url.pathname.startsWith('/api/v2/')) {
      const path = url.pathname.slice('/api/v2/'.length).split('/').filter((s) => s !== '').map(decodeURIComponent);
      try {
        const subject = iam.verify(req.headers.authorization);
        if (!subject) throw new Unauthorized();
        const instance = req.headers['bluemix-instance'];
        if (typeof instance !== 'string' || !INSTANCE_ID.test(instance)) {
          throw new KpError('INVALID_FIELD_ERR', 'Request could not be processed', 'The field `bluemix-instance` must be: a service instance GUID', { type: 'header', name: 'bluemix-instance' });
        }
        // An instance nobody provisioned: the token's identity has no access to it.
        const inst = store.instance(instance);
        if (!inst) throw new Unauthorized();
        let body: unknown;
        if (raw.length > 0) {
          const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
          if (type !== '' && !JSON_TYPE.test(type)) throw new UnsupportedMediaType(`the body must be JSON (application/vnd.ibm.kms.*+json or application/json), not ${type}`);
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new KpError('BAD_BODY_ERR', 'Request could not be processed', 'Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters: the body is not JSON');
          }
        }
        const out = api.handle({ method: req.method ?? 'GET', path, query: url.searchParams, headers: req.headers, body, subject, inst });
        reply(out.status, out.body, out.headers);
      } catch (e) {
        if (e instanceof KpError || e instanceof Unauthorized || e instanceof UnsupportedMediaType) return send(res, e.status, e.body());
        throw e;
      }
      return;
    }
    send(res, 404, bareError(404, `no such path ${url.pathname}`));
  }

  // GET/POST/DELETE /_emulator/faults, POST /_emulator/tokens/expire, GET /_emulator/stats,
  // GET/POST /_emulator/instances
  async function control(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const raw = await readBody(req);
    if (path === '/_emulator/instances') {
      if (req.method === 'POST') {
        try {
          const b = JSON.parse(raw.toString('utf8') || '{}') as { id?: unknown };
          if (typeof b.id !== 'string') throw new Error('give {"id": "<instance GUID>"}');
          createInstance(b.id);
        } catch (e) {
          return send(res, 400, { error: (e as Error).message });
        }
      }
      return send(res, 200, { instances: [...store.instances.keys()] });
    }
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
    createInstance,
    seedKeys: (instance, count, o = {}) => {
      const inst = store.instance(instance);
      if (!inst) throw new Error(`instance ${instance} does not exist: create it first`);
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const k = newKey({ name: o.name?.(i) ?? `seed-${i}`, extractable: o.extractable ?? true, createdBy: 'emulator-seed', createdAt: o.createdAt?.getTime() });
        inst.keys.set(k.id, k);
        store.changed(inst, k.id);
        ids.push(k.id);
      }
      return ids;
    },
    keyCount: (instance, o = {}) => {
      let n = 0;
      for (const k of store.instance(instance)?.keys.values() ?? []) {
        if ((o.extractable === undefined || k.extractable === o.extractable) && (o.includeDeleted || !k.deleted) && (o.name === undefined || k.name === o.name)) n++;
      }
      return n;
    },
    keysNamed: (instance, name) => [...store.instance(instance)?.keys.values() ?? []].filter((k) => k.name === name && !k.deleted).map((k) => k.id),
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

/** Padding of a `huge` answer: past any client's reasonable limit (crk-wrapping reads at most 4 MiB). */
const HUGE = 6 * 1024 * 1024;

/** Sends a processed answer, corrupted as faults.corrupt says when it is a success. */
function answer(req: http.IncomingMessage, res: http.ServerResponse, f: Faults, status: number, body: unknown, headers: Record<string, string>): void {
  const ok = status >= 200 && status < 300;
  const c: Corruption = ok ? f.corrupt : 'none';
  if (c === 'lost') {
    req.socket.destroy();
    return;
  }
  if (c === 'status') {
    const h: Record<string, string> = {};
    if (f.retryAfterSeconds > 0) h['retry-after'] = String(f.retryAfterSeconds);
    send(res, f.errorStatus, bareError(f.errorStatus, 'injected fault after processing'), h);
    return;
  }
  if (body === undefined || c === 'none') {
    send(res, status, body, headers);
    return;
  }
  if (c === 'fields') return send(res, status, stripped(body), headers);
  if (c === 'types') return send(res, status, mistyped(body), headers);
  const json = c === 'json' ? '<html><body>502 Bad Gateway</body></html>' : c === 'huge' ? JSON.stringify({ ...(body as object), padding: 'x'.repeat(HUGE) }) : JSON.stringify(body);
  const bytes = Buffer.from(json);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers });
  if (c === 'truncate') {
    // The length promised, half of it sent, then the connection dropped.
    res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
    return;
  }
  if (c === 'drip') {
    // One byte every 200 ms: an answer that starts but does not finish in any reasonable time.
    let i = 0;
    const timer = setInterval(() => {
      if (i >= bytes.length || res.destroyed) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(bytes.subarray(i, i + 1));
      i++;
    }, 200);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.end(bytes);
}

/** The answer without its fields: each resource `{}`, an action's answer `{}`. */
function stripped(body: unknown): unknown {
  const b = body as { resources?: unknown };
  if (b && Array.isArray(b.resources)) return { ...b, resources: b.resources.map(() => ({})) };
  return {};
}

/** Every string a number and every number a string (booleans and structure kept). */
function mistyped(v: unknown): unknown {
  if (typeof v === 'string') return v.length;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(mistyped);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mistyped(x)]));
  return v;
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
