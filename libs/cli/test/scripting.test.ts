// The CLI as scripts use it (real stack, Admin API over mTLS): --json with
// enumeration names and numbers, numeric options checked before any call,
// nothing on disk after a failure, the README's exit codes, operator accounts,
// key revoke/destroy and the audit trail.
import { randomUUID } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { certFingerprint, createCsr, internalIdentity, issueCertificate } from '@keywarden/common';
import { runCaptured } from './capture';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { TestStack, startStack } from '../../../test/lib';

jest.setTimeout(60_000);

let stack: TestStack;
let dataDir: string;
let work: string;
let tenantId: string;
let client: { cert: string; key: string };
/** An Admin API endpoint nothing listens on: a command that must fail before calling it exits 2, not 6. */
const NOWHERE = 'localhost:1';

/** A tenant whose emulator instance is provisioned first (where the emulator wants that), with a registered client. */
async function addTenant(id: string): Promise<{ cert: string; key: string }> {
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

beforeAll(async () => {
  stack = await startStack();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-s-'));
  const pki = path.join(dataDir, 'pki');
  fs.mkdirSync(path.join(pki, 'internal'), { recursive: true });
  fs.writeFileSync(path.join(pki, 'ca.crt'), stack.pki.ca.cert);
  fs.writeFileSync(path.join(pki, 'ca.key'), stack.pki.ca.key);
  fs.writeFileSync(path.join(pki, 'internal', 'ca.crt'), stack.pki.internalCa.cert);
  fs.writeFileSync(path.join(pki, 'internal', 'admin.crt'), stack.pki.admin.cert);
  fs.writeFileSync(path.join(pki, 'internal', 'admin.key'), stack.pki.admin.key);
  tenantId = `s-${randomUUID().slice(0, 6)}`;
  client = await addTenant(tenantId);
});

afterAll(async () => {
  await stack?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-w-'));
});

afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

function kwAt(endpoint: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCaptured(['--endpoint', endpoint, '--data-dir', dataDir, ...args]);
}

const kw = (...args: string[]) => kwAt(`localhost:${stack.lifecyclePort}`, ...args);

describe('environment', () => {
  afterEach(() => {
    delete process.env.KEYWARDEN_PKI_DIR;
    delete process.env.KEYWARDEN_CERT;
  });

  it('KEYWARDEN_PKI_DIR and KEYWARDEN_CERT name the operator identity when --pki-dir and --cert are not given', async () => {
    const elsewhere = path.join(work, 'ops-pki');
    fs.mkdirSync(elsewhere);
    fs.copyFileSync(path.join(dataDir, 'pki', 'internal', 'ca.crt'), path.join(elsewhere, 'ca.crt'));
    fs.copyFileSync(path.join(dataDir, 'pki', 'internal', 'admin.crt'), path.join(elsewhere, 'alice.crt'));
    fs.copyFileSync(path.join(dataDir, 'pki', 'internal', 'admin.key'), path.join(elsewhere, 'alice.key'));
    process.env.KEYWARDEN_PKI_DIR = elsewhere;
    process.env.KEYWARDEN_CERT = 'alice';
    // The data dir's pki/internal has no alice.crt: this works only through the environment.
    const r = await kw('--json', 'tenant', 'list');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(expect.arrayContaining([expect.objectContaining({ id: tenantId })]));
    // An empty directory: the error names both ways to give it.
    process.env.KEYWARDEN_PKI_DIR = path.join(work, 'empty');
    fs.mkdirSync(process.env.KEYWARDEN_PKI_DIR);
    const failed = await kwAt(`localhost:${stack.lifecyclePort}`, 'tenant', 'list');
    expect(failed.code).not.toBe(0);
    expect(failed.err).toMatch(/--pki-dir DIR or KEYWARDEN_PKI_DIR holding ca\.crt and alice\.crt\/\.key/);
  });
});
const json = async (...args: string[]) => {
  const r = await kw('--json', ...args);
  if (r.code !== 0) throw new Error(`keywarden ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out);
};

function lc(method: string, req: object): Promise<{ uniqueIdentifier: string }> {
  const c = new lifecycleV1.KeyLifecycleClient(`localhost:${stack.lifecyclePort}`, require('@keywarden/common').channelCredentials(stack.pki.gateway));
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (c as any)[method]({ caller: { certFingerprint: certFingerprint(client.cert) }, ...req }, (err: Error | null, r: { uniqueIdentifier: string }) => {
      c.close();
      if (err) reject(err); else resolve(r);
    });
  });
}

async function newKey(tags: Record<string, string> = {}, activate = false): Promise<string> {
  const { uniqueIdentifier: uid } = await lc('create', {
    objectType: 2,
    attributes: [{ name: 'Cryptographic Algorithm', index: 0, value: { enumeration: 3 } }, { name: 'Cryptographic Length', index: 0, value: { integer: 256 } }],
  });
  for (const [name, text] of Object.entries(tags)) await lc('addAttribute', { uniqueIdentifier: uid, attribute: { name, index: 0, value: { textString: text } } });
  if (activate) await lc('activate', { uniqueIdentifier: uid });
  return uid;
}

/** Every value under these keys, anywhere in `v`. */
function valuesOf(v: unknown, names: string[], out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) v.forEach((x) => valuesOf(x, names, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (names.includes(k)) out.push(x);
      else valuesOf(x, names, out);
    }
  }
  return out;
}

const COUNTS = ['keyCount', 'certificateCount', 'total', 'done', 'rewrapped', 'failed', 'keysOnOlderVersions', 'cryptographicLength', 'daysLeft', 'index', 'percent'];

describe('--json: enumeration names, numbers as numbers', () => {
  test('tenant list/show, key list/show, cert list, rootkey status and rotate', async () => {
    const uid = await newKey({ 'x-Name': 'vm-json', 'x-Component': 'Virtual Machine', 'x-Identifier': '564d-json' }, true);
    const outputs = [
      await json('tenant', 'list'), await json('tenant', 'show', tenantId), await json('key', 'list', tenantId), await json('key', 'show', tenantId, uid),
      await json('cert', 'list', '--tenant', tenantId), await json('rootkey', 'status', tenantId), await json('rootkey', 'rotate', tenantId),
    ];
    const counts = outputs.flatMap((o) => valuesOf(o, COUNTS));
    expect(counts.length).toBeGreaterThan(10);
    for (const c of counts) expect(typeof c).toBe('number');

    const t = outputs[1];
    expect(t).toMatchObject({ id: tenantId, provider: { kind: 'KEYPROTECT' }, keyCount: 1, certificateCount: 1 });
    const k = (outputs[2] as Array<Record<string, unknown>>).find((x) => x.uniqueIdentifier === uid);
    expect(k).toMatchObject({
      state: 'Active', objectType: 'Symmetric Key', cryptographicAlgorithm: 'AES', cryptographicLength: 256,
      tags: { name: 'vm-json', component: 'Virtual Machine', identifier: '564d-json' },
    });
    const show = outputs[3];
    expect(show.dates['Initial Date']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(Math.abs(Date.parse(show.dates['Activation Date']) - Date.now())).toBeLessThan(60_000);
    expect(show.attributes.find((a: { name: string }) => a.name === 'State').value).toBe('Active');
    expect(show.attributes.find((a: { name: string }) => a.name === 'Object Type').value).toBe('Symmetric Key');
    expect(outputs[4][0]).toMatchObject({ tenantId, expiresSoon: false });
    expect(outputs[6]).toMatchObject({ job: { status: 'done', failed: 0, percent: 100 }, status: { keysOnOlderVersions: 0, state: 'ACTIVE' } });
  });

  test('key show prints names and ISO dates, not numbers', async () => {
    const uid = await newKey({ 'x-Name': 'vm-show' }, true);
    const r = await kw('key', 'show', tenantId, uid);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^state:\s+Active$/m);
    expect(r.out).toMatch(/^object type:\s+Symmetric Key$/m);
    expect(r.out).toMatch(/^usage mask:\s+Encrypt, Decrypt$/m);
    expect(r.out).toMatch(/^VM\/host \(x-Name\):\s+vm-show$/m);
    expect(r.out).toMatch(/^\s+Initial Date:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/m);
    expect(r.out).toMatch(/^\s+Cryptographic Algorithm:\s+AES$/m);
    expect(r.out).not.toMatch(/^\s+Initial Date:\s+\d+$/m);
  });
});

describe('numeric options are checked before anything is called or written', () => {
  test.each([
    [['key', 'list', 'acme', '--limit', 'abc'], '--limit'],
    [['key', 'list', 'acme', '--limit', '0'], '--limit'],
    [['key', 'list', 'acme', '--limit', '1001'], '--limit'],
    [['--timeout', 'abc', 'tenant', 'list'], '--timeout'],
    [['--timeout', '0', 'tenant', 'list'], '--timeout'],
    [['--timeout', '-5', 'tenant', 'list'], '--timeout'],
    [['rootkey', 'shred', 'acme', '--confirm', 'acme', '--sample', 'x'], '--sample'],
    [['audit', 'list', '--limit', '5.5'], '--limit'],
  ])('keywarden %j exits 2 naming %s', async (args, option) => {
    const r = await kwAt(NOWHERE, ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(option);
    expect(r.err).not.toMatch(/cannot reach|deadline exceeded/i);
  });

  test('vcenter --days abc (or 0) writes no file and creates no directory', async () => {
    const { csr } = createCsr('vc-days.example.com');
    fs.writeFileSync(path.join(work, 'vc.csr'), csr);
    for (const days of ['abc', '0', '99999']) {
      const signed = await kwAt(NOWHERE, 'vcenter', 'sign-csr', path.join(work, 'vc.csr'), '--days', days, '--out', path.join(work, 'out', 'vc.crt'));
      expect(signed.code).toBe(2);
      expect(signed.err).toContain('--days');
      const issued = await kwAt(NOWHERE, 'vcenter', 'issue-client', 'vc-days', '--days', days, '--out-dir', path.join(work, 'dir'));
      expect(issued.code).toBe(2);
    }
    expect(fs.readdirSync(work)).toEqual(['vc.csr']);
  });
});

describe('exit codes (README: 0 ok, 2 usage, 3 not found, 4 conflict/precondition, 5 permission, 6 unreachable)', () => {
  test('0, 2 and 3', async () => {
    expect((await kw('tenant', 'list')).code).toBe(0);
    expect((await kw('no-such-command')).code).toBe(2);
    expect((await kw('tenant', 'show')).code).toBe(2); // missing argument
    const server = await kw('audit', 'list', '--fingerprint', 'not-a-fingerprint');
    expect(server).toMatchObject({ code: 2, err: expect.stringContaining('64 hex digits') });
    expect(await kw('tenant', 'show', 'no-such-tenant')).toMatchObject({ code: 3, err: expect.stringContaining('no-such-tenant') });
    expect((await kw('key', 'show', tenantId, 'no-such-key')).code).toBe(3);
  });

  test('4: a certificate registered to another tenant (conflict); destroying an Active key (precondition)', async () => {
    const other = `o-${randomUUID().slice(0, 6)}`;
    await addTenant(other);
    fs.writeFileSync(path.join(work, 'c.crt'), client.cert);
    expect(await kw('cert', 'add', other, path.join(work, 'c.crt'))).toMatchObject({ code: 4, err: expect.stringContaining(`already registered to tenant "${tenantId}"`) });
    const uid = await newKey({}, true);
    expect(await kw('key', 'destroy', tenantId, uid, '--confirm', uid)).toMatchObject({ code: 4, err: expect.stringContaining('revoke it before destroying') });
  });

  test('5: an internal certificate without the operator role; 6: nothing listening', async () => {
    const pki = path.join(work, 'pki');
    fs.mkdirSync(pki);
    const platform = issueCertificate(stack.pki.internalCa, { ...internalIdentity('kmip-gateway'), uris: [], commonName: 'platform' });
    fs.writeFileSync(path.join(pki, 'ca.crt'), stack.pki.internalCa.cert);
    fs.writeFileSync(path.join(pki, 'admin.crt'), platform.cert);
    fs.writeFileSync(path.join(pki, 'admin.key'), platform.key);
    expect(await kw('--pki-dir', pki, 'tenant', 'list')).toMatchObject({ code: 5, err: expect.stringContaining('operator') });
    expect(await kwAt(NOWHERE, '--timeout', '2', 'tenant', 'list')).toMatchObject({ code: 6, err: expect.stringContaining('cannot reach the Admin API at localhost:1') });
  });
});

describe('key revoke and destroy', () => {
  test('refuses a wrong confirmation (nothing changes), revokes for compromise, destroys', async () => {
    const uid = await newKey({}, true);
    expect((await kw('key', 'revoke', tenantId, uid, '--reason', 'key-compromise', '--confirm', 'other')).code).toBe(2);
    expect((await kw('key', 'revoke', tenantId, uid, '--reason', 'stolen', '--confirm', uid)).code).toBe(2);
    expect((await json('key', 'show', tenantId, uid)).state).toBe('Active');
    expect(await json('key', 'revoke', tenantId, uid, '--reason', 'key-compromise', '--message', 'test', '--confirm', uid)).toMatchObject({ state: 'Compromised' });
    expect(await json('key', 'destroy', tenantId, uid, '--confirm', uid)).toMatchObject({ state: 'Destroyed Compromised' });
    const audit = await json('audit', 'list', '--tenant', tenantId, '--op', 'Admin.DestroyKey', '--limit', '1');
    expect(audit[0]).toMatchObject({ uniqueIdentifier: uid, result: 'ok', operator: 'admin', tenantId });
  });
});

describe('operator accounts', () => {
  test('add (hash only), list, refuse a weak password or a duplicate, set-password, remove', async () => {
    const name = `op-${randomUUID().slice(0, 6)}`;
    process.env.KW_TEST_OP_PASSWORD = 'a long enough password';
    process.env.KW_TEST_WEAK = 'short';
    try {
      expect(await kw('operator', 'add', name, '--role', 'viewer', '--password-env', 'KW_TEST_WEAK')).toMatchObject({ code: 2, err: expect.stringContaining('at least 12 characters') });
      expect((await kw('operator', 'add', name, '--role', 'root', '--password-env', 'KW_TEST_OP_PASSWORD')).code).toBe(2);
      expect((await kw('operator', 'add', 'bad/name', '--role', 'viewer', '--password-env', 'KW_TEST_OP_PASSWORD')).code).toBe(2);
      expect((await json('operator', 'list')).map((o: { name: string }) => o.name)).not.toContain(name);
      const added = await kw('--json', 'operator', 'add', name, '--role', 'viewer', '--password-env', 'KW_TEST_OP_PASSWORD');
      expect(added.code).toBe(0);
      expect(JSON.parse(added.out)).toMatchObject({ name, role: 'VIEWER' });
      expect(added.out + added.err).not.toContain('a long enough password');
      expect((await json('operator', 'list')).find((o: { name: string }) => o.name === name)).toMatchObject({ role: 'VIEWER' });
      expect((await kw('operator', 'add', name, '--role', 'admin', '--password-env', 'KW_TEST_OP_PASSWORD')).code).toBe(4);
      expect((await kw('operator', 'set-password', name, '--password-env', 'KW_TEST_OP_PASSWORD')).code).toBe(0);
      expect((await kw('operator', 'remove', name)).code).toBe(0);
      expect((await kw('operator', 'remove', name)).code).toBe(3);
    } finally {
      delete process.env.KW_TEST_OP_PASSWORD;
      delete process.env.KW_TEST_WEAK;
    }
  });
});
