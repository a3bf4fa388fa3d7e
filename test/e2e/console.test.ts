// The admin console in a real browser (Debian's Chromium, driven by
// playwright-core) against the stack exactly as `npm start` runs it, with
// PyKMIP as vCenter: sign-in, certificates, the keys vCenter tagged, a root
// key rotation with live progress, revoke and destroy behind typed
// confirmations, the audit trail, a viewer, CSRF and session checks, and
// hostile text that must stay text. One stack and one browser for the file.
import { createHash, X509Certificate } from 'crypto';
import { spawnSync } from 'child_process';
import fs from 'fs';
import http from 'http';
import os from 'os';
import path from 'path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { issueCertificate } from '@keywarden/common';
import { freePort } from '../lib/redis';
import { cli, PY, root, Running, start, stop } from './local-stack-harness';

jest.setTimeout(120_000);

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const ADMIN = { name: 'alice', password: 'alice console password' };
const VIEWER = { name: 'bob', password: 'bob console password' };
/** Text a tenant, a key and vCenter's tags may carry: the page must show it, never run it. */
const HOSTILE = {
  tenantName: '<script>window.__kwPwned = "tenant"</script>Default',
  keyName: '<b onmouseover="window.__kwPwned=\'name\'">bold</b>',
  vm: '<img src=x onerror="window.__kwPwned=\'tag\'">',
  component: '<script>window.__kwPwned="component"</script>',
};

let dataDir: string;
let work: string;
let kmipPort: number;
let running: Running;
let consoleUrl: string;
let userDataDir: string;
let context: BrowserContext;
let page: Page;
let uids: string[];
/** Every body the console sent the browser, to prove no key material was among them. */
const bodies: Buffer[] = [];

function py(args: string[]): Record<string, unknown> {
  const r = spawnSync(PY, [path.join(__dirname, 'py/console_keys.py'), ...args], { encoding: 'utf8', timeout: 60_000, cwd: work });
  if (r.status !== 0) throw new Error(`PyKMIP failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** The built CLI against the stack; `input` is its standard input (a password for --password-stdin). */
function kw(args: string[], input?: string): string {
  const r = input === undefined ? cli(dataDir, args)
    : spawnSync(process.execPath, [path.join(root, 'libs/cli/dist/main.js'), '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60_000, input });
  const code = 'code' in r ? r.code : r.status;
  if (code !== 0) throw new Error(`keywarden ${args.join(' ')}: ${code} ${r.stderr}`);
  return r.stdout;
}

/** Chromium trusts exactly the console's certificate key (the local stack's pki/console-server.crt), nothing else. */
function spkiHash(certFile: string): string {
  const spki = new X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * The browser globals the page functions below use: this file is
 * type-checked with Node's types only, and these functions run in the page.
 */
interface PageNode { textContent: string | null }
interface B {
  document: { querySelector(s: string): PageNode | null; querySelectorAll(s: string): ArrayLike<PageNode> & Iterable<PageNode>; body: unknown; cookie: string };
  MutationObserver: new (cb: () => void) => { observe(target: unknown, o: object): void };
  __kwPwned?: string;
  __kwSeen?: string[];
}

const row = (uid: string) => page.locator(`tr[data-uid="${uid}"]`);

async function signIn(who: { name: string; password: string }): Promise<void> {
  await page.goto(consoleUrl);
  await page.fill('input[name=name]', who.name);
  await page.fill('input[name=password]', who.password);
  await page.click('form[data-test=login] button[type=submit]');
  await page.waitForSelector('[data-test=who]');
}

async function signOut(): Promise<void> {
  await page.click('[data-test=sign-out]');
  await page.waitForSelector('form[data-test=login]');
}

/** A change made from the page's own JavaScript, as a forged request would be: status and message. */
function postFromPage(urlPath: string, body: unknown, csrf?: string): Promise<{ status: number; error: string }> {
  return page.evaluate(async ({ urlPath, body, csrf }) => {
    const token = csrf ?? ((await (await fetch('/api/session')).json()) as { csrf: string }).csrf;
    const r = await fetch(urlPath, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': token }, body: JSON.stringify(body) });
    return { status: r.status, error: ((await r.json()) as { error: string }).error };
  }, { urlPath, body, csrf });
}

async function keyState(uid: string): Promise<string> {
  return page.evaluate(async (u) => ((await (await fetch(`/api/tenants/default/keys/${encodeURIComponent(u)}`)).json()) as { state: string }).state, uid);
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-console-'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-console-w-'));
  kmipPort = await freePort();
  running = await start(dataDir, kmipPort);
  consoleUrl = /console (https:\/\/\S+)/.exec(running.output())![1];
  kw(['operator', 'add', ADMIN.name, '--role', 'admin', '--password-stdin'], `${ADMIN.password}\n`);
  kw(['operator', 'add', VIEWER.name, '--role', 'viewer', '--password-stdin'], `${VIEWER.password}\n`);
  kw(['tenant', 'update', 'default', '--name', HOSTILE.tenantName]);
  const spec = [
    { name: null, tags: { 'x-Name': 'vm-e2e-01', 'x-Identifier': '564d-e2e-01', 'x-Component': 'Virtual Machine' } },
    { name: HOSTILE.keyName, tags: { 'x-Name': HOSTILE.vm, 'x-Component': HOSTILE.component, 'x-Identifier': 'id-hostile' } },
    ...Array.from({ length: 10 }, (_, i) => ({ name: null, tags: { 'x-Name': `vm-bulk-${i}`, 'x-Component': 'Virtual Machine' } })),
  ];
  uids = py(['create', String(kmipPort), path.join(dataDir, 'pki'), JSON.stringify(spec), path.join(work, 'material')]).uids as string[];

  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, `--ignore-certificate-errors-spki-list=${spkiHash(path.join(dataDir, 'pki', 'console-server.crt'))}`],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('response', (r) => {
    if (r.url().startsWith(consoleUrl)) r.body().then((b) => bodies.push(b), () => undefined);
  });
}, 180_000);

afterAll(async () => {
  await context?.close();
  if (running) await stop(running);
  for (const d of [dataDir, work, userDataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
}, 60_000);

test('Chromium and PyKMIP are installed (.ci/run installs them)', () => {
  expect({ chromium: fs.existsSync(CHROMIUM), hint: 'apt-get install -y chromium' }).toEqual({ chromium: true, hint: 'apt-get install -y chromium' });
  expect(spawnSync(PY, ['-c', 'import kmip']).status).toBe(0);
});

test('sign-in: a wrong password is refused; the session cookie is HttpOnly, Secure, SameSite=Strict and out of reach of scripts', async () => {
  await page.goto(consoleUrl);
  await page.fill('input[name=name]', ADMIN.name);
  await page.fill('input[name=password]', 'not the password');
  await page.click('form[data-test=login] button[type=submit]');
  await expect(page.locator('[data-test=error]').textContent()).resolves.toBe('wrong operator name or password');
  await signIn(ADMIN);
  expect(await page.textContent('[data-test=who]')).toContain('alice');
  const [cookie] = await context.cookies(consoleUrl);
  expect(cookie).toMatchObject({ name: '__Host-kw-console', httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  expect(await page.evaluate(() => (globalThis as unknown as B).document.cookie)).toBe('');
});

test('tenants: provider, root key state, key and certificate counts; a name with HTML is shown as text', async () => {
  await page.goto(`${consoleUrl}#/tenants`);
  const tr = page.locator('tr[data-tenant=default]');
  await page.waitForFunction(() => (globalThis as unknown as B).document.querySelector('tr[data-tenant=default] [data-test=root-key-state]')?.textContent === 'ACTIVE');
  expect(await tr.locator('td').nth(2).textContent()).toBe('KEYPROTECT');
  expect(await tr.locator('[data-test=key-count]').textContent()).toBe(String(uids.length));
  expect(await tr.locator('[data-test=cert-count]').textContent()).toBe('1');
  expect(await tr.locator('[data-test=tenant-name]').textContent()).toBe(HOSTILE.tenantName);
  expect(await page.evaluate(() => (globalThis as unknown as B).__kwPwned)).toBeUndefined();
});

test('certificates: upload a PEM and see its fingerprint, subject and expiry warning; a private key, a 10 MiB file and a pasted key are refused', async () => {
  const soon = issueCertificate(null, { commonName: 'vc-<i>e2e</i>', usage: 'client', days: 10 });
  const file = path.join(work, 'vc.crt');
  fs.writeFileSync(file, soon.cert);
  await page.goto(`${consoleUrl}#/certificates`);
  await page.setInputFiles('input[name=file]', file);
  await page.click('form[data-test=register] button[type=submit]');
  await page.waitForSelector('[data-test=added]');
  const fp = createHash('sha256').update(new X509Certificate(soon.cert).raw).digest('hex');
  expect(await page.textContent('[data-test=added]')).toContain(fp);
  // The subject as OpenSSL prints it (RFC 4514 escapes "<" and ">"), shown as text.
  expect(await page.textContent('[data-test=added]')).toContain('CN=vc-\\<i\\>e2e\\</i\\>');
  const listed = page.locator(`tr[data-fingerprint="${fp}"]`);
  await listed.waitFor();
  expect(await listed.locator('[data-test=expiry-warning]').textContent()).toMatch(/\(\d+ days: renew it soon\)/);
  expect(await page.locator('i').count()).toBe(0);

  const count = await page.locator('table[data-test=certificates] tbody tr').count();
  await page.setInputFiles('input[name=file]', { name: 'vc.key', mimeType: 'application/octet-stream', buffer: Buffer.from(soon.key) });
  await page.click('form[data-test=register] button[type=submit]');
  expect(await page.textContent('[data-test=error]')).toBe('vc.key holds a private key: never upload a private key; choose the certificate');
  await page.setInputFiles('input[name=file]', { name: 'huge.crt', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10 * 1024 * 1024, 0x41) });
  await page.click('form[data-test=register] button[type=submit]');
  expect(await page.textContent('[data-test=error]')).toBe('huge.crt is 10.0 MiB; a certificate file is at most 64 KiB');
  // The same 10 MiB sent past the page's own check: the console refuses it, and says why.
  const direct = await postFromPage('/api/certificates', { tenant: 'default', pem: 'A'.repeat(10 * 1024 * 1024) });
  expect(direct).toEqual({ status: 413, error: expect.stringMatching(/^the upload is 10\.0 MiB; at most 256 KiB is accepted/) });
  await page.setInputFiles('input[name=file]', []);
  await page.fill('textarea[name=pem]', soon.key);
  await page.click('form[data-test=register] button[type=submit]');
  expect(await page.textContent('[data-test=error]')).toContain('holds a private key');
  expect(await page.locator('table[data-test=certificates] tbody tr').count()).toBe(count);
});

test("keys: the PyKMIP client's keys appear with vCenter's tags; search by VM; HTML in tags and names is text, never run", async () => {
  await page.goto(`${consoleUrl}#/tenants/default/keys`);
  await row(uids[0]).waitFor();
  expect(await row(uids[0]).locator('[data-test=tag-name]').textContent()).toBe('vm-e2e-01');
  expect(await row(uids[0]).locator('[data-test=tag-identifier]').textContent()).toBe('564d-e2e-01');
  expect(await row(uids[0]).locator('[data-test=tag-component]').textContent()).toBe('Virtual Machine');
  expect(await row(uids[0]).locator('[data-test=state]').textContent()).toBe('Active');
  const hostile = row(uids[1]);
  expect(await hostile.locator('[data-test=tag-name]').textContent()).toBe(HOSTILE.vm);
  expect(await hostile.locator('[data-test=tag-component]').textContent()).toBe(HOSTILE.component);
  expect(await hostile.locator('td').first().textContent()).toContain(HOSTILE.keyName);
  await hostile.hover();
  expect(await page.locator('table[data-test=keys] img, table[data-test=keys] script, table[data-test=keys] b').count()).toBe(0);
  expect(await page.evaluate(() => (globalThis as unknown as B).__kwPwned)).toBeUndefined();

  await page.fill('form[data-test=search] input[name=vm]', 'vm-e2e-01');
  await page.click('form[data-test=search] button[type=submit]');
  await page.waitForFunction(() => (globalThis as unknown as B).document.querySelectorAll('table[data-test=keys] tbody tr').length === 1);
  expect(await row(uids[0]).count()).toBe(1);
});

test('root key: rotation shows live progress up to 100 % and moves every key to the new version', async () => {
  await page.goto(`${consoleUrl}#/tenants/default/rootkey`);
  await page.waitForFunction(() => (globalThis as unknown as B).document.querySelector('[data-test=rootkey-state]')?.textContent === 'ACTIVE');
  const before = await page.textContent('[data-test=rootkey] dd:nth-of-type(3)');
  await page.evaluate(() => {
    const seen: string[] = [];
    (globalThis as unknown as B).__kwSeen = seen;
    new (globalThis as unknown as B).MutationObserver(() => {
      const p = (globalThis as unknown as B).document.querySelector('[data-test=percent]')?.textContent;
      if (p && seen[seen.length - 1] !== p) seen.push(p);
    }).observe((globalThis as unknown as B).document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.click('[data-test=rotate]');
  await page.waitForSelector('[data-test=rewrap-result]', { timeout: 60_000 });
  const seen = (await page.evaluate(() => (globalThis as unknown as B).__kwSeen)) ?? [];
  expect(seen[seen.length - 1]).toBe('100 %');
  const numbers = seen.map((s) => Number.parseInt(s, 10));
  expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  expect(await page.textContent('[data-test=rewrap-result]')).toBe(`${uids.length} rewrapped, 0 failed of ${uids.length}`);
  await page.waitForFunction(() => (globalThis as unknown as B).document.querySelector('[data-test=older]')?.textContent === '0');
  expect(await page.textContent('[data-test=rootkey] dd:nth-of-type(3)')).not.toBe(before);
});

test('revoke and destroy one key behind typed confirmations; then the KMIP client is refused', async () => {
  const uid = uids[0];
  expect(py(['get', String(kmipPort), path.join(dataDir, 'pki'), uid])).toMatchObject({ ok: true });
  await page.goto(`${consoleUrl}#/tenants/default/keys`);
  await row(uid).locator('[data-test=revoke]').click();
  const dialog = page.locator('[data-test=confirm]');
  await dialog.locator('select[name=reason]').selectOption('key-compromise');
  await dialog.locator('input[name=confirm]').fill(uid.slice(0, -1));
  expect(await dialog.locator('[data-test=confirm-button]').isDisabled()).toBe(true);
  await dialog.locator('input[name=confirm]').fill(uid);
  await dialog.locator('[data-test=confirm-button]').click();
  await page.waitForFunction((u) => (globalThis as unknown as B).document.querySelector(`tr[data-uid="${u}"] [data-test=state]`)?.textContent === 'Compromised', uid);
  // KMIP 1.2 lets a client still Get a compromised key (to decrypt what it protected); destroying it ends that.
  await row(uid).locator('[data-test=destroy]').click();
  await page.locator('[data-test=confirm] input[name=confirm]').fill(uid);
  await page.locator('[data-test=confirm] [data-test=confirm-button]').click();
  await page.waitForFunction((u) => (globalThis as unknown as B).document.querySelector(`tr[data-uid="${u}"] [data-test=state]`)?.textContent === 'Destroyed Compromised', uid);
  expect(py(['get', String(kmipPort), path.join(dataDir, 'pki'), uid])).toMatchObject({ ok: false, message: expect.stringMatching(/destroyed/) });
});

test('CSRF: a forged token from the page, and a form posted from another site, change nothing', async () => {
  const uid = uids[2];
  expect(await postFromPage(`/api/tenants/default/keys/${uid}/revoke`, { reason: 'key-compromise', confirm: uid }, 'forged-token'))
    .toEqual({ status: 403, error: 'missing or forged CSRF token: reload the page and try again' });
  const evilPort = await freePort();
  const evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<form method="POST" action="${consoleUrl}api/tenants/default/keys/${uid}/revoke" enctype="text/plain">
      <input name='{"reason":"key-compromise","confirm":"${uid}","x":"' value='"}'></form><script>document.forms[0].submit()</script>`);
  });
  await new Promise<void>((r) => evil.listen(evilPort, '127.0.0.1', () => r()));
  try {
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    await page.waitForURL(/\/revoke$/);
    expect(await page.textContent('body')).toContain('did not come from the console');
  } finally {
    evil.close();
  }
  await page.goto(consoleUrl);
  await page.waitForSelector('[data-test=who]');
  expect(await keyState(uid)).toBe('Active');
});

test('audit: filtered by operation, tenant and result; changes name the operator, via the console', async () => {
  await page.goto(`${consoleUrl}#/audit`);
  await page.fill('form[data-test=audit-filters] input[name=op]', 'Admin.RevokeKey');
  await page.click('form[data-test=audit-filters] button[type=submit]');
  await page.waitForFunction(() => [...(globalThis as unknown as B).document.querySelectorAll('table[data-test=audit] [data-test=op]')].every((e) => e.textContent === 'Admin.RevokeKey')
    && (globalThis as unknown as B).document.querySelectorAll('table[data-test=audit] tbody tr').length > 0);
  const first = page.locator('table[data-test=audit] tbody tr').first();
  expect(await first.locator('[data-test=operator]').textContent()).toBe('alice via console');
  expect(await first.textContent()).toContain(uids[0]);
  await page.fill('form[data-test=audit-filters] input[name=op]', 'Get');
  await page.fill('form[data-test=audit-filters] input[name=tenant]', 'default');
  await page.selectOption('form[data-test=audit-filters] select[name=result]', 'failed');
  await page.click('form[data-test=audit-filters] button[type=submit]');
  await page.waitForFunction(() => (globalThis as unknown as B).document.querySelector('table[data-test=audit] [data-test=op]')?.textContent === 'Get');
  expect(await page.locator('table[data-test=audit] tbody tr').first().locator('[data-test=result]').textContent()).toMatch(/^FAILED_PRECONDITION/);
});

test('a viewer sees the same pages and can change nothing, not even by calling the API', async () => {
  await signOut();
  await signIn(VIEWER);
  expect(await page.textContent('[data-test=who]')).toContain('viewer: read-only');
  await page.goto(`${consoleUrl}#/tenants/default/keys`);
  await row(uids[3]).waitFor();
  expect(await page.locator('[data-test=revoke], [data-test=destroy]').count()).toBe(0);
  await page.goto(`${consoleUrl}#/certificates`);
  await page.waitForSelector('table[data-test=certificates] tbody tr');
  expect(await page.locator('form[data-test=register], [data-test=remove]').count()).toBe(0);
  await page.goto(`${consoleUrl}#/tenants/default/rootkey`);
  await page.waitForSelector('[data-test=rootkey]');
  expect(await page.locator('[data-test=rotate], [data-test=shred]').count()).toBe(0);
  expect(await postFromPage(`/api/tenants/default/keys/${uids[3]}/revoke`, { reason: 'key-compromise', confirm: uids[3] }))
    .toEqual({ status: 403, error: 'bob is a viewer: read-only' });
  expect(await postFromPage('/api/tenants/default/rootkey/shred', { confirm: 'default' })).toMatchObject({ status: 403 });
  expect(await keyState(uids[3])).toBe('Active');
});

test('session: signing out ends it for the server too; without a session every page asks to sign in', async () => {
  const cookie = (await context.cookies(consoleUrl))[0];
  await signOut();
  await context.addCookies([{ ...cookie }]);
  expect(await page.evaluate(async () => (await fetch('/api/tenants')).status)).toBe(401);
  await page.goto(`${consoleUrl}#/audit`);
  await page.waitForSelector('form[data-test=login]');
  expect(await page.locator('table').count()).toBe(0);
});

test('no key material ever reached the browser', async () => {
  const material = Buffer.from(fs.readFileSync(path.join(work, 'material'), 'utf8'), 'base64');
  expect(material.length).toBe(32);
  expect(bodies.length).toBeGreaterThan(20);
  const forms = [material.toString('hex'), material.toString('hex').toUpperCase(), material.toString('base64'), material.toString('base64url')];
  const leaked = bodies.filter((b) => b.includes(material) || forms.some((f) => b.includes(f))).length;
  expect(leaked).toBe(0);
});
