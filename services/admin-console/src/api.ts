// The console's JSON API under /api: each route one Admin call (or a few),
// answered as the CLI's views (enumeration names, numbers, RFC 3339 dates;
// never key material). Routes marked `change` are for admins, need the
// session's CSRF token, and are audited by key-lifecycle with the operator's
// name.
import type { IncomingMessage, ServerResponse } from 'http';
import { grpc, isGrpcError } from '@keywarden/common';
import { views } from '@keywarden/cli';
import type { adminV1 } from '@keywarden/proto';
import { Actor, AdminGateway } from './admin';
import { certificatePem, MAX_CERTIFICATE } from './certificates';
import { field, HttpError, readJson } from './http';
import { actorOf, Session } from './sessions';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
  session: Session;
  actor: Actor;
  admin: AdminGateway;
}

export interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  /** Changes something: admins only, CSRF token required. */
  change: boolean;
  /** Returns the JSON answer, or undefined when it wrote the response itself (streams). */
  run(c: RouteContext): Promise<unknown>;
}

const KEY_PAGE = 50;
const AUDIT_PAGE = 100;
const TEXT = 256;

/** A gRPC failure of the Admin API as an HTTP status. */
export function httpStatusOf(e: unknown): number {
  if (!isGrpcError(e)) return 500;
  switch (e.code) {
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.OUT_OF_RANGE: return 400;
    case grpc.status.UNAUTHENTICATED: return 401;
    case grpc.status.PERMISSION_DENIED: return 403;
    case grpc.status.NOT_FOUND: return 404;
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.ABORTED: return 409;
    case grpc.status.RESOURCE_EXHAUSTED: return 429;
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED: return 503;
    default: return 500;
  }
}

const q = (c: RouteContext, name: string) => {
  const v = c.query.get(name) ?? '';
  if (v.length > TEXT) throw new HttpError(400, `${name} is longer than ${TEXT} characters`);
  return v;
};

const route = (method: Route['method'], path: RegExp, change: boolean, run: Route['run']): Route => ({ method, path, change, run });

export const ROUTES: Route[] = [
  route('GET', /^\/api\/tenants$/, false, async (c) =>
    (await c.admin.call<adminV1.ListTenantsResponse>('listTenants', {}, c.actor)).tenants.map(views.tenantView)),

  route('GET', /^\/api\/tenants\/([^/]+)\/rootkey$/, false, async (c) =>
    views.rootKeyView(await c.admin.call<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId: c.params[0] }, c.actor))),

  route('POST', /^\/api\/tenants\/([^/]+)\/rootkey\/rotate$/, true, async (c) => {
    const status = await c.admin.call<adminV1.RootKeyStatus>('rotateRootKey', { tenantId: c.params[0] }, c.actor);
    const job = await c.admin.call<adminV1.RewrapJob>('startRewrap', { tenantId: c.params[0] }, c.actor);
    return { status: views.rootKeyView(status), job: views.jobView(job) };
  }),

  route('POST', /^\/api\/tenants\/([^/]+)\/rootkey\/rewrap$/, true, async (c) =>
    views.jobView(await c.admin.call<adminV1.RewrapJob>('startRewrap', { tenantId: c.params[0] }, c.actor))),

  route('POST', /^\/api\/tenants\/([^/]+)\/rootkey\/shred$/, true, async (c) => {
    const confirm = field(await readJson(c.req), 'confirm', TEXT);
    if (confirm !== c.params[0]) throw new HttpError(400, `type the tenant id "${c.params[0]}" exactly to confirm`);
    return views.rootKeyView(await c.admin.call<adminV1.RootKeyStatus>('shredRootKey', { tenantId: c.params[0], confirmTenantId: confirm }, c.actor));
  }),

  route('GET', /^\/api\/tenants\/([^/]+)\/keys$/, false, async (c) => {
    const attributes: Record<string, string> = {};
    for (const [param, attr] of [['vm', 'x-Name'], ['identifier', 'x-Identifier'], ['component', 'x-Component']]) {
      const v = q(c, param);
      if (v) attributes[attr] = v;
    }
    const r = await c.admin.call<adminV1.ListKeysResponse>('listKeys', { tenantId: c.params[0], limit: KEY_PAGE, pageToken: q(c, 'page'), attributes }, c.actor);
    return { keys: r.keys.map(views.keyView), next: r.nextPageToken };
  }),

  route('GET', /^\/api\/tenants\/([^/]+)\/keys\/([^/]+)$/, false, async (c) =>
    views.keyView(await c.admin.call<adminV1.KeyInfo>('getKey', { tenantId: c.params[0], uniqueIdentifier: c.params[1] }, c.actor))),

  route('POST', /^\/api\/tenants\/([^/]+)\/keys\/([^/]+)\/revoke$/, true, async (c) => {
    const body = await readJson(c.req);
    const reason = field(body, 'reason', TEXT);
    const code = views.REVOCATION_REASONS[reason];
    if (code === undefined) throw new HttpError(400, `reason must be one of ${Object.keys(views.REVOCATION_REASONS).join(', ')}`);
    const confirm = field(body, 'confirm', TEXT);
    if (confirm !== c.params[1]) throw new HttpError(400, 'type the key\'s uid exactly to confirm');
    return views.keyView(await c.admin.call<adminV1.KeyInfo>('revokeKey', {
      tenantId: c.params[0], uniqueIdentifier: c.params[1], confirmUniqueIdentifier: confirm, revocationReasonCode: code, revocationMessage: field(body, 'message', 1024, true),
    }, c.actor));
  }),

  route('POST', /^\/api\/tenants\/([^/]+)\/keys\/([^/]+)\/destroy$/, true, async (c) => {
    const confirm = field(await readJson(c.req), 'confirm', TEXT);
    if (confirm !== c.params[1]) throw new HttpError(400, 'type the key\'s uid exactly to confirm');
    return views.keyView(await c.admin.call<adminV1.KeyInfo>('destroyKey', { tenantId: c.params[0], uniqueIdentifier: c.params[1], confirmUniqueIdentifier: confirm }, c.actor));
  }),

  route('GET', /^\/api\/certificates$/, false, async (c) =>
    (await c.admin.call<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: q(c, 'tenant') }, c.actor)).certificates.map(views.certificateView)),

  route('POST', /^\/api\/certificates$/, true, async (c) => {
    const body = await readJson(c.req);
    const tenantId = field(body, 'tenant', TEXT);
    const pem = certificatePem(field(body, 'pem', MAX_CERTIFICATE, true), field(body, 'der', Math.ceil(MAX_CERTIFICATE * 4 / 3) + 4, true));
    return views.certificateView(await c.admin.call<adminV1.Certificate>('addCertificate', { tenantId, pem }, c.actor));
  }),

  route('POST', /^\/api\/certificates\/([0-9a-fA-F:]{64,95})\/remove$/, true, async (c) => {
    await c.admin.call('removeCertificate', { fingerprint: c.params[0] }, c.actor);
    return { removed: c.params[0].replace(/:/g, '').toLowerCase() };
  }),

  route('GET', /^\/api\/audit$/, false, async (c) => {
    const r = await c.admin.call<adminV1.ListAuditResponse>('listAudit', {
      tenantId: q(c, 'tenant'), cert: q(c, 'cert'), op: q(c, 'op'), result: q(c, 'result'), operator: q(c, 'operator'), limit: AUDIT_PAGE, pageToken: q(c, 'page'),
    }, c.actor);
    return { entries: r.entries.map(views.auditView), next: r.nextPageToken };
  }),

  route('GET', /^\/api\/rewrap\/([0-9a-f-]{36})\/events$/, false, async (c) => {
    streamRewrap(c);
    return undefined;
  }),
];

/**
 * A rewrap job's progress as Server-Sent Events (EventSource in the page):
 * one `data:` line per change, `event: end` when the job ends, `event:
 * failure` if the stream fails.
 */
function streamRewrap(c: RouteContext): void {
  c.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  const send = (event: string, data: unknown) => c.res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  const w = c.admin.watchRewrap(c.params[0], actorOf(c.session), (j) => send('', views.jobView(j)));
  // The browser went away (or the response ended): stop watching.
  c.res.on('close', () => w.cancel());
  w.done.then(
    () => { send('end', {}); c.res.end(); },
    (e: unknown) => { send('failure', { error: isGrpcError(e) ? e.details : 'the progress stream failed' }); c.res.end(); },
  );
}
