// The console's HTTPS handler: static page files, sign-in and sign-out, and
// the JSON API behind a session, with CSRF, origin and role checks.
import fs from 'fs';
import type { IncomingMessage, ServerResponse } from 'http';
import path from 'path';
import { grpc, isGrpcError, Logger } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import { AdminGateway } from './admin';
import { httpStatusOf, ROUTES } from './api';
import { field, HttpError, parseCookies, readJson, SECURITY_HEADERS, sendJson } from './http';
import { AttemptLimiter } from './limiter';
import { actorOf, csrfMatches, Role, Session, Sessions } from './sessions';

/** The session cookie: __Host- pins it to this origin (Secure, Path=/, no Domain). */
export const COOKIE = '__Host-kw-console';
export const CSRF_HEADER = 'x-csrf-token';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
};

export interface HandlerOptions {
  admin: AdminGateway;
  sessions: Sessions;
  limiter: AttemptLimiter;
  /** The built page (index.html, app.js, app.css). */
  publicDir: string;
  log: Logger;
}

/** The page's files, read once at start (a few KiB): served from memory with their content types. */
function loadPublic(dir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new Error(`cannot read the console's page files in ${dir} (${(e as Error).message}); run \`npm run build\``);
  }
  for (const name of names) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (type) files.set(`/${name}`, { body: fs.readFileSync(path.join(dir, name)), type });
  }
  if (!files.has('/index.html')) throw new Error(`${dir} has no index.html; run \`npm run build\``);
  return files;
}

function sessionCookie(token: string, maxAgeSeconds: number): string {
  return `${COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
}

const clearCookie = () => `${COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict`;

/**
 * A change must come from this console's own page: the browser's Origin (or
 * Sec-Fetch-Site) says where the request was made. A page elsewhere cannot
 * send the session cookie (SameSite=Strict) nor read the CSRF token; this is
 * the third lock.
 */
function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin === `https://${req.headers.host}`;
}

function roleOf(r: adminV1.OperatorRole): Role {
  return r === 1 ? 'ADMIN' : 'VIEWER';
}

export function createHandler(o: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const files = loadPublic(o.publicDir);
  const maxAge = Math.floor(o.sessions.limits.maxAgeMs / 1000);

  const lookup = (req: IncomingMessage) => o.sessions.get(parseCookies(req.headers.cookie)[COOKIE]);

  /** The signed-in session of a request, or 401 (saying whether it ran out). */
  function requireSession(req: IncomingMessage): { session: Session; key: string } {
    const l = lookup(req);
    if ('session' in l) return l;
    throw new HttpError(401, l.expired ? 'your session expired; sign in again' : 'sign in first', 'session');
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const wait = o.limiter.take(req.socket.remoteAddress ?? '');
    if (wait > 0) {
      req.resume();
      throw new HttpError(429, `too many sign-in attempts from this address; try again in ${Math.ceil(wait / 60_000)} minute(s)`);
    }
    const body = await readJson(req, 4096);
    const name = field(body, 'name', 64);
    const password = field(body, 'password', 1024);
    let r: adminV1.OperatorSession;
    try {
      r = await o.admin.call<adminV1.OperatorSession>('verifyOperatorPassword', { name, password }, undefined);
    } catch (e) {
      if (isGrpcError(e) && e.code === grpc.status.UNAUTHENTICATED) o.log.info({ operator: name.slice(0, 64), ip: req.socket.remoteAddress }, 'console sign-in refused');
      throw e;
    }
    const role = roleOf(r.operator?.role ?? 0);
    const { token, session } = o.sessions.create(r.operator?.name ?? name, role, r.epoch);
    o.log.info({ operator: session.operator, role }, 'console sign-in');
    res.setHeader('set-cookie', sessionCookie(token, maxAge));
    sendJson(res, 200, { operator: session.operator, role, csrf: session.csrf });
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && !sameOrigin(req)) throw new HttpError(403, 'this request did not come from the console\'s own page', 'csrf');
    if (url.pathname === '/api/login' && method === 'POST') return login(req, res);
    const { session, key } = requireSession(req);
    if (method !== 'GET' && !csrfMatches(session, req.headers[CSRF_HEADER] as string | undefined)) {
      throw new HttpError(403, 'missing or forged CSRF token: reload the page and try again', 'csrf');
    }
    if (url.pathname === '/api/session' && method === 'GET') return sendJson(res, 200, { operator: session.operator, role: session.role, csrf: session.csrf });
    if (url.pathname === '/api/logout' && method === 'POST') {
      o.sessions.end(key);
      res.setHeader('set-cookie', clearCookie());
      return sendJson(res, 200, { signedOut: true });
    }
    for (const r of ROUTES) {
      const m = r.method === method ? r.path.exec(url.pathname) : null;
      if (!m) continue;
      if (r.change && session.role !== 'ADMIN') throw new HttpError(403, `${session.operator} is a viewer: read-only`);
      let params: string[];
      try {
        params = m.slice(1).map(decodeURIComponent);
      } catch {
        throw new HttpError(400, 'a malformed path');
      }
      try {
        const out = await r.run({ req, res, params, query: url.searchParams, session, actor: actorOf(session), admin: o.admin });
        if (out !== undefined) sendJson(res, 200, out);
      } catch (e) {
        // key-lifecycle ended the account's sessions (removed, password changed).
        if (isGrpcError(e) && e.code === grpc.status.UNAUTHENTICATED) {
          o.sessions.endAllOf(session.operator);
          res.setHeader('set-cookie', clearCookie());
          throw new HttpError(401, e.details, 'session');
        }
        throw e;
      }
      return;
    }
    throw new HttpError(404, `no ${method} ${url.pathname}`);
  }

  function fail(res: ServerResponse, e: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof HttpError) return sendJson(res, e.status, { error: e.message, code: e.code });
    if (isGrpcError(e)) {
      const status = httpStatusOf(e);
      if (status === 500) o.log.error({ err: e }, 'Admin API call failed');
      return sendJson(res, status, { error: status === 503 ? `the key service is unavailable (${e.details})` : e.details });
    }
    o.log.error({ err: e }, 'console request failed');
    sendJson(res, 500, { error: 'internal error; see the console log' });
  }

  return (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://console.invalid');
    } catch {
      return fail(res, new HttpError(400, 'a malformed URL'));
    }
    if (url.pathname.startsWith('/api/')) {
      api(req, res, url).catch((e: unknown) => fail(res, e));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, new HttpError(405, 'only GET here'));
    const f = files.get(url.pathname === '/' ? '/index.html' : url.pathname);
    if (!f) return fail(res, new HttpError(404, 'not found'));
    res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  };
}
