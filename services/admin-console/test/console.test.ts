// The console's HTTPS API against a real stack (key-lifecycle, crk-wrapping,
// emulator, Redis; the console's own operator certificate): sign-in, the
// session cookie, CSRF and origin checks, roles, limits on sign-in and
// uploads, certificates that are private keys, and sessions that end.
import { randomUUID } from 'crypto';
import https from 'https';
import { certFingerprint, createCa, hashPassword, internalIdentity, issueCertificate, Issued } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { TestStack, startStack } from '../../../test/lib';
import { AdminConsole, AdminConsoleOptions, startAdminConsole } from '../src';

jest.setTimeout(60_000);

let stack: TestStack;
let consoleSvc: AdminConsole;
let tenantId: string;
let vcenter: Issued;
const IDLE_MS = 1500;

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> & { error?: string } }

function request(method: string, path: string, o: { body?: unknown; raw?: Buffer; cookie?: string; csrf?: string; origin?: string | null; type?: string } = {}): Promise<Reply> {
  const data = o.raw ?? (o.body !== undefined ? Buffer.from(JSON.stringify(o.body)) : undefined);
  const headers: Record<string, string> = {};
  if (data) headers['content-type'] = o.type ?? 'application/json';
  if (o.cookie) headers.cookie = o.cookie;
  if (o.csrf) headers['x-csrf-token'] = o.csrf;
  const origin = o.origin === undefined ? `https://localhost:${consoleSvc.port}` : o.origin;
  if (origin !== null && method !== 'GET') headers.origin = origin;
  return new Promise((resolve, reject) => {
    const r = https.request({ host: 'localhost', port: consoleSvc.port, path, method, headers, ca: stack.pki.ca.cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body = {};
        try {
          body = JSON.parse(text);
        } catch {
          body = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    r.on('error', reject);
    r.end(data);
  });
}

interface Signed { cookie: string; csrf: string }

async function signIn(name: string, password: string): Promise<Signed> {
  const r = await request('POST', '/api/login', { body: { name, password } });
  if (r.status !== 200) throw new Error(`sign-in of ${name}: ${r.status} ${r.body.error}`);
  const set = String(r.headers['set-cookie']);
  return { cookie: set.split(';')[0], csrf: String(r.body.csrf) };
}

async function addTenant(id: string): Promise<Issued> {
  const instanceId = randomUUID();
  (stack.emulator as { createInstance?: (i: string) => void }).createInstance?.(instanceId);
  await stack.adminCall('createTenant', {
    id, name: id, credential: 'test-api-key', createRootKey: true,
    provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: stack.emulatorUrl, iamEndpoint: stack.emulatorUrl, instanceId, crkId: '' },
  });
  const c = issueCertificate(null, { commonName: `vcenter-${id}`, usage: 'client' });
  await stack.adminCall('addCertificate', { tenantId: id, pem: c.cert });
  return c;
}

function startConsole(o: Partial<AdminConsoleOptions>): Promise<AdminConsole> {
  const identity = issueCertificate(stack.pki.internalCa, { ...internalIdentity('operator', { roleName: 'console' }), usage: 'client' });
  const server = issueCertificate(stack.pki.ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  return startAdminConsole({
    address: '127.0.0.1:0',
    https: { cert: Buffer.from(server.cert), key: Buffer.from(server.key) },
    adminAddress: `localhost:${stack.lifecyclePort}`,
    adminTls: { ca: Buffer.from(stack.pki.internalCa.cert), cert: Buffer.from(identity.cert), key: Buffer.from(identity.key) },
    ...o,
  });
}

beforeAll(async () => {
  stack = await startStack();
  // Sessions of the default length here: a short idle time would expire the shared sessions of the
  // tests below whenever the machine pauses them (the expiry test has a console of its own).
  consoleSvc = await startConsole({ loginAttempts: { max: 50, windowMs: 60_000 } });
  tenantId = `con-${randomUUID().slice(0, 6)}`;
  vcenter = await addTenant(tenantId);
  const ADMIN = adminV1.OperatorRole.OPERATOR_ROLE_ADMIN;
  const VIEWER = adminV1.OperatorRole.OPERATOR_ROLE_VIEWER;
  await stack.adminCall('addOperator', { name: 'ada', role: ADMIN, passwordHash: await hashPassword('ada password 12') });
  await stack.adminCall('addOperator', { name: 'vera', role: VIEWER, passwordHash: await hashPassword('vera password 12') });
});

afterAll(async () => {
  await consoleSvc?.close();
  await stack?.close();
});

describe('sign-in and the session cookie', () => {
  test('a right password gives an HttpOnly, Secure, SameSite=Strict __Host- cookie and a CSRF token', async () => {
    const r = await request('POST', '/api/login', { body: { name: 'ada', password: 'ada password 12' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ operator: 'ada', role: 'ADMIN' });
    expect(String(r.body.csrf)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-kw-console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    const s = await request('GET', '/api/session', { cookie: cookie.split(';')[0] });
    expect(s.body).toMatchObject({ operator: 'ada', role: 'ADMIN', csrf: r.body.csrf });
  });

  test('a wrong password, an unknown operator, a missing field: a clear refusal and no cookie', async () => {
    for (const body of [{ name: 'ada', password: 'wrong password!!' }, { name: 'nobody', password: 'ada password 12' }]) {
      const r = await request('POST', '/api/login', { body });
      expect(r).toMatchObject({ status: 401, body: { error: 'wrong operator name or password' } });
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    expect(await request('POST', '/api/login', { body: { name: 'ada' } })).toMatchObject({ status: 400, body: { error: 'password is required' } });
    expect(await request('GET', '/api/tenants')).toMatchObject({ status: 401, body: { error: 'sign in first' } });
    expect(await request('GET', '/api/tenants', { cookie: '__Host-kw-console=forged-token' })).toMatchObject({ status: 401 });
  });

  test('an idle session expires with a message; sign-out ends a session', async () => {
    // A console whose sessions expire after IDLE_MS, for this test only.
    const main = consoleSvc;
    consoleSvc = await startConsole({ sessions: { idleMs: IDLE_MS }, loginAttempts: { max: 50, windowMs: 60_000 } });
    try {
      const s = await signIn('ada', 'ada password 12');
      await new Promise((r) => setTimeout(r, IDLE_MS + 300));
      expect(await request('GET', '/api/tenants', { cookie: s.cookie })).toMatchObject({ status: 401, body: { error: 'your session expired; sign in again', code: 'session' } });
      const t = await signIn('ada', 'ada password 12');
      expect((await request('POST', '/api/logout', { cookie: t.cookie, csrf: t.csrf })).status).toBe(200);
      expect((await request('GET', '/api/tenants', { cookie: t.cookie })).status).toBe(401);
    } finally {
      await consoleSvc.close();
      consoleSvc = main;
    }
  });

  test('a changed password or a removed account ends the sessions already open', async () => {
    const ADMIN = adminV1.OperatorRole.OPERATOR_ROLE_ADMIN;
    await stack.adminCall('addOperator', { name: 'tmp', role: ADMIN, passwordHash: await hashPassword('tmp password 123') });
    const s = await signIn('tmp', 'tmp password 123');
    expect((await request('GET', '/api/tenants', { cookie: s.cookie })).status).toBe(200);
    await stack.adminCall('setOperatorPassword', { name: 'tmp', passwordHash: await hashPassword('tmp password 456') });
    expect(await request('GET', '/api/tenants', { cookie: s.cookie })).toMatchObject({ status: 401, body: { error: expect.stringMatching(/password of "tmp" was changed/) } });
    expect((await request('GET', '/api/session', { cookie: s.cookie })).status).toBe(401);
  });

  test('sign-in attempts from one address are limited', async () => {
    const main = consoleSvc;
    consoleSvc = await startConsole({ loginAttempts: { max: 3, windowMs: 60_000 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await request('POST', '/api/login', { body: { name: 'ada', password: `guess number ${i}` } })).status);
      expect(statuses).toEqual([401, 401, 401]);
      // The fourth waits, even with the right password.
      expect(await request('POST', '/api/login', { body: { name: 'ada', password: 'ada password 12' } }))
        .toMatchObject({ status: 429, body: { error: expect.stringMatching(/too many sign-in attempts from this address; try again in 1 minute/) } });
    } finally {
      await consoleSvc.close();
      consoleSvc = main;
    }
  });
});

describe('changes need the CSRF token, the console\'s own origin and an admin', () => {
  let ada: Signed;
  let vera: Signed;
  let uid: string;

  beforeAll(async () => {
    ada = await signIn('ada', 'ada password 12');
    vera = await signIn('vera', 'vera password 12');
    uid = await newKey();
  });

  async function newKey(): Promise<string> {
    const c = new (require('@keywarden/proto').lifecycleV1.KeyLifecycleClient)(`localhost:${stack.lifecyclePort}`, require('@keywarden/common').channelCredentials(stack.pki.gateway));
    const caller = { certFingerprint: certFingerprint(vcenter.cert) };
    const call = (m: string, req: object) => new Promise<{ uniqueIdentifier: string }>((resolve, reject) => c[m]({ caller, ...req }, (e: Error | null, r: { uniqueIdentifier: string }) => (e ? reject(e) : resolve(r))));
    const { uniqueIdentifier } = await call('create', {
      objectType: 2, attributes: [{ name: 'Cryptographic Algorithm', index: 0, value: { enumeration: 3 } }, { name: 'Cryptographic Length', index: 0, value: { integer: 256 } }],
    });
    await call('activate', { uniqueIdentifier });
    c.close();
    return uniqueIdentifier;
  }

  const revoke = (s: Signed, extra: { csrf?: string; origin?: string | null } = {}) => request('POST', `/api/tenants/${tenantId}/keys/${uid}/revoke`, {
    body: { reason: 'key-compromise', confirm: uid }, cookie: s.cookie, csrf: extra.csrf ?? s.csrf, origin: extra.origin,
  });
  const state = async () => (await request('GET', `/api/tenants/${tenantId}/keys/${uid}`, { cookie: ada.cookie })).body.state;

  test('a forged or missing CSRF token, or another origin, is refused and changes nothing', async () => {
    expect(await revoke(ada, { csrf: 'forged' })).toMatchObject({ status: 403, body: { error: 'missing or forged CSRF token: reload the page and try again' } });
    expect(await revoke(ada, { csrf: vera.csrf })).toMatchObject({ status: 403 });
    expect(await revoke(ada, { origin: 'https://evil.example' })).toMatchObject({ status: 403, body: { error: expect.stringContaining('did not come from the console') } });
    const noCsrf = await request('POST', `/api/tenants/${tenantId}/keys/${uid}/revoke`, { body: { reason: 'key-compromise', confirm: uid }, cookie: ada.cookie });
    expect(noCsrf.status).toBe(403);
    const asForm = await request('POST', `/api/tenants/${tenantId}/keys/${uid}/revoke`, { raw: Buffer.from(`reason=key-compromise&confirm=${uid}`), type: 'application/x-www-form-urlencoded', cookie: ada.cookie, csrf: ada.csrf });
    expect(asForm.status).toBe(415);
    expect(await state()).toBe('Active');
  });

  test('a viewer reads but changes nothing, even with a valid token', async () => {
    expect((await request('GET', '/api/tenants', { cookie: vera.cookie })).status).toBe(200);
    expect((await request('GET', '/api/audit', { cookie: vera.cookie })).status).toBe(200);
    expect(await revoke(vera)).toMatchObject({ status: 403, body: { error: 'vera is a viewer: read-only' } });
    expect((await request('POST', `/api/tenants/${tenantId}/rootkey/rotate`, { body: {}, cookie: vera.cookie, csrf: vera.csrf })).status).toBe(403);
    expect(await state()).toBe('Active');
  });

  test('an admin revokes with a typed confirmation; the audit names the operator', async () => {
    expect(await request('POST', `/api/tenants/${tenantId}/keys/${uid}/revoke`, { body: { reason: 'key-compromise', confirm: 'not-the-uid' }, cookie: ada.cookie, csrf: ada.csrf }))
      .toMatchObject({ status: 400, body: { error: 'type the key\'s uid exactly to confirm' } });
    expect(await state()).toBe('Active');
    expect(await revoke(ada)).toMatchObject({ status: 200, body: { uniqueIdentifier: uid, state: 'Compromised' } });
    const audit = await request('GET', `/api/audit?tenant=${tenantId}&op=Admin.RevokeKey`, { cookie: vera.cookie });
    expect((audit.body.entries as Array<Record<string, unknown>>)[0]).toMatchObject({ uniqueIdentifier: uid, operator: 'ada', result: 'ok', detail: { via: 'console' } });
  });

  test('uploads: a 10 MiB "certificate", a private key (PEM or DER), junk: clear messages, nothing registered', async () => {
    const before = (await request('GET', '/api/certificates', { cookie: ada.cookie })).body as unknown as unknown[];
    const big = Buffer.alloc(10 * 1024 * 1024, 0x41);
    const huge = await request('POST', '/api/certificates', { raw: Buffer.concat([Buffer.from(`{"tenant":"${tenantId}","pem":"`), big, Buffer.from('"}')]), cookie: ada.cookie, csrf: ada.csrf });
    expect(huge).toMatchObject({ status: 413, body: { error: expect.stringMatching(/^the upload is 10\.0 MiB; at most 256 KiB is accepted/) } });
    const key = issueCertificate(createCa('x'), { commonName: 'vc', usage: 'client' }).key;
    const pemKey = await request('POST', '/api/certificates', { body: { tenant: tenantId, pem: key }, cookie: ada.cookie, csrf: ada.csrf });
    expect(pemKey).toMatchObject({ status: 400, body: { error: expect.stringContaining('holds a private key') } });
    const der = require('crypto').createPrivateKey(key).export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const derKey = await request('POST', '/api/certificates', { body: { tenant: tenantId, der }, cookie: ada.cookie, csrf: ada.csrf });
    expect(derKey).toMatchObject({ status: 400, body: { error: expect.stringContaining('holds a private key') } });
    const junk = await request('POST', '/api/certificates', { body: { tenant: tenantId, der: Buffer.from('not a certificate').toString('base64') }, cookie: ada.cookie, csrf: ada.csrf });
    expect(junk).toMatchObject({ status: 400, body: { error: expect.stringContaining('neither a PEM') } });
    expect((await request('GET', '/api/certificates', { cookie: ada.cookie })).body).toEqual(before);
  });

  test('registers a DER certificate and shows its fingerprint and expiry; removes it', async () => {
    const c = issueCertificate(null, { commonName: 'vc-der', usage: 'client', days: 20 });
    const der = new (require('crypto').X509Certificate)(c.cert).raw.toString('base64');
    const r = await request('POST', '/api/certificates', { body: { tenant: tenantId, der }, cookie: ada.cookie, csrf: ada.csrf });
    expect(r).toMatchObject({ status: 200, body: { fingerprint: certFingerprint(c.cert), subject: 'CN=vc-der', expiresSoon: true } });
    expect(r.body.daysLeft).toBeGreaterThanOrEqual(19);
    const rm = await request('POST', `/api/certificates/${certFingerprint(c.cert)}/remove`, { body: {}, cookie: ada.cookie, csrf: ada.csrf });
    expect(rm.status).toBe(200);
    expect(JSON.stringify((await request('GET', '/api/certificates', { cookie: ada.cookie })).body)).not.toContain(certFingerprint(c.cert));
  });

  test('rotate answers the rewrap job; its progress streams as server-sent events until it ends at 100 %', async () => {
    for (let i = 0; i < 5; i++) await newKey();
    const r = await request('POST', `/api/tenants/${tenantId}/rootkey/rotate`, { body: {}, cookie: ada.cookie, csrf: ada.csrf });
    expect(r.status).toBe(200);
    const job = r.body.job as { jobId: string; total: number };
    expect(job.total).toBeGreaterThanOrEqual(6);
    const text = await new Promise<string>((resolve, reject) => {
      https.get({ host: 'localhost', port: consoleSvc.port, path: `/api/rewrap/${job.jobId}/events`, headers: { cookie: vera.cookie }, ca: stack.pki.ca.cert }, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let all = '';
        res.on('data', (c: Buffer) => (all += c.toString()));
        res.on('end', () => resolve(all));
      }).on('error', reject);
    });
    const events = text.trim().split('\n\n');
    expect(events[events.length - 1]).toBe('event: end\ndata: {}');
    const jobs = events.filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)) as { done: number; percent: number; status: string; failed: number });
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    expect(jobs.map((j) => j.done)).toEqual([...jobs.map((j) => j.done)].sort((a, b) => a - b));
    expect(jobs[jobs.length - 1]).toMatchObject({ status: 'done', percent: 100, failed: 0 });
    expect((await request('GET', `/api/rewrap/${job.jobId}/events`)).status).toBe(401);
  });

  test('answers unknown routes and malformed paths with a message, serves the page with its headers', async () => {
    expect(await request('GET', '/api/nope', { cookie: ada.cookie })).toMatchObject({ status: 404 });
    expect(await request('GET', `/api/tenants/%E0%A4%A/keys`, { cookie: ada.cookie })).toMatchObject({ status: 400, body: { error: 'a malformed path' } });
    const page = await request('GET', '/');
    expect(page.status).toBe(200);
    expect(String(page.body.text)).toContain('<script defer src="/app.js"></script>');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect((await request('GET', '/../../etc/passwd')).status).toBe(404);
  });
});
