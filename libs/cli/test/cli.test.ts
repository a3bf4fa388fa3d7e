// The operator CLI against a running stack (real key-lifecycle, crk-wrapping,
// emulator, Redis; Admin API over mTLS), including rotate-and-rewrap and shred.
import { X509Certificate } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { certFingerprint, createCa, createCsr } from '@keywarden/common';
import { runCaptured } from './capture';
import { lifecycleV1 } from '@keywarden/proto';
import { TestStack, TestTenant, startStack } from '../../../test/lib';

let stack: TestStack;
let dataDir: string;
let tenant: TestTenant;

beforeAll(async () => {
  stack = await startStack();
  // A data directory as the local stack lays it out: the KMIP CA in pki/, the operator's identity in pki/internal/.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-'));
  const pkiDir = path.join(dataDir, 'pki');
  fs.mkdirSync(path.join(pkiDir, 'internal'), { recursive: true });
  fs.writeFileSync(path.join(pkiDir, 'ca.crt'), stack.pki.ca.cert);
  fs.writeFileSync(path.join(pkiDir, 'ca.key'), stack.pki.ca.key);
  fs.writeFileSync(path.join(pkiDir, 'internal', 'ca.crt'), stack.pki.internalCa.cert);
  fs.writeFileSync(path.join(pkiDir, 'internal', 'admin.crt'), stack.pki.admin.cert);
  fs.writeFileSync(path.join(pkiDir, 'internal', 'admin.key'), stack.pki.admin.key);
  tenant = await stack.createTenant('cli-tenant');
}, 60_000);

afterAll(async () => {
  await stack?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

async function kw(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return kwAt(`localhost:${stack.lifecyclePort}`, ...args);
}

function kwAt(endpoint: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCaptured(['--endpoint', endpoint, '--data-dir', dataDir, ...args]);
}

function getKey(t: TestTenant, uid: string): Promise<lifecycleV1.GetResponse> {
  const c = new lifecycleV1.KeyLifecycleClient(`localhost:${stack.lifecyclePort}`, require('@keywarden/common').channelCredentials(stack.pki.gateway));
  return new Promise((resolve, reject) => c.get({ caller: { certFingerprint: certFingerprint(t.client.cert) }, uniqueIdentifier: uid, keyFormatType: 0 }, (err, r) => {
    c.close();
    if (err) reject(err); else resolve(r);
  }));
}

function createKey(t: TestTenant): Promise<string> {
  const c = new lifecycleV1.KeyLifecycleClient(`localhost:${stack.lifecyclePort}`, require('@keywarden/common').channelCredentials(stack.pki.gateway));
  return new Promise((resolve, reject) => c.create({
    caller: { certFingerprint: certFingerprint(t.client.cert) }, objectType: 2,
    attributes: [{ name: 'Cryptographic Algorithm', index: 0, value: { enumeration: 3 } as never }, { name: 'Cryptographic Length', index: 0, value: { integer: 256 } as never }],
  }, (err, r) => { c.close(); if (err) reject(err); else resolve(r.uniqueIdentifier); }));
}

/** Tags a key as vCenter does (Add Attribute of a custom text attribute). */
function tagKey(t: TestTenant, uid: string, name: string, text: string): Promise<void> {
  const c = new lifecycleV1.KeyLifecycleClient(`localhost:${stack.lifecyclePort}`, require('@keywarden/common').channelCredentials(stack.pki.gateway));
  return new Promise((resolve, reject) => c.addAttribute({
    caller: { certFingerprint: certFingerprint(t.client.cert) }, uniqueIdentifier: uid, attribute: { name, index: 0, value: { textString: text } as never },
  }, (err) => { c.close(); if (err) reject(err); else resolve(); }));
}

describe('tenants', () => {
  test('create (new root key in the emulator), list, show, delete with confirmation', async () => {
    process.env.KW_TEST_APIKEY = 'test-api-key';
    // The emulator, like Key Protect, knows only the instances that exist.
    (stack.emulator as { createInstance?: (id: string) => void }).createInstance?.('6f9e5a0e-1111-4222-8333-944455556666');
    const created = await kw('tenant', 'create', 'cli-t2', '--provider', 'keyprotect', '--url', stack.emulatorUrl, '--iam-url', stack.emulatorUrl,
      '--instance', '6f9e5a0e-1111-4222-8333-944455556666', '--create-root-key', '--credential-env', 'KW_TEST_APIKEY');
    expect(created).toMatchObject({ code: 0 });
    expect(created.out).toMatch(/created tenant cli-t2 \(root key \S+\)/);
    const list = await kw('tenant', 'list');
    expect(list.out).toMatch(/^ID\s+NAME\s+PROVIDER/m);
    expect(list.out).toMatch(/^cli-t2\s+cli-t2\s+keyprotect/m);
    const json = JSON.parse((await kw('--json', 'tenant', 'show', 'cli-t2')).out);
    expect(json).toMatchObject({ id: 'cli-t2', credentialSource: 'sealed' });
    expect(JSON.stringify(json)).not.toContain('test-api-key');
    expect((await kw('tenant', 'update', 'cli-t2', '--name', 'Renamed', '--credential-env', 'KW_TEST_APIKEY')).code).toBe(0);
    expect(JSON.parse((await kw('--json', 'tenant', 'show', 'cli-t2')).out)).toMatchObject({ name: 'Renamed', credentialSource: 'sealed' });
    expect((await kw('tenant', 'delete', 'cli-t2', '--confirm', 'wrong')).code).toBe(2);
    const del = await kw('tenant', 'delete', 'cli-t2', '--confirm', 'cli-t2');
    expect(del.code).toBe(0);
    const gone = await kw('tenant', 'show', 'cli-t2');
    expect(gone.code).toBe(3);
    expect(gone.err).toMatch(/cli-t2/);
  });

  test('usage errors exit 2 with a message; an unreachable endpoint exits 6 naming it', async () => {
    const bad = await kw('tenant', 'create', 'x', '--provider', 'nope', '--url', 'e', '--instance', 'i', '--create-root-key');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--provider must be one of/);
    const down = await kwAt('localhost:1', '--timeout', '2', 'tenant', 'list');
    expect(down.code).toBe(6);
    expect(down.err).toMatch(/cannot reach the Admin API at localhost:1/);
  });
});

describe('certificates', () => {
  test('add from PEM shows fingerprint and expiry; list; remove ends access', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-cert-'));
    const issued = await kw('vcenter', 'issue-client', 'vc-lab', '--out-dir', dir);
    expect(issued.code).toBe(0);
    const pem = fs.readFileSync(path.join(dir, 'vc-lab.crt'), 'utf8');
    expect((fs.statSync(path.join(dir, 'vc-lab.key')).mode & 0o777).toString(8)).toBe('600');
    const added = await kw('cert', 'add', tenant.id, path.join(dir, 'vc-lab.crt'));
    expect(added.code).toBe(0);
    expect(added.out).toContain(certFingerprint(pem));
    const list = await kw('cert', 'list', '--tenant', tenant.id);
    expect(list.out).toContain(certFingerprint(pem));
    expect(list.out).toMatch(/\d+d/);
    const fpColons = new X509Certificate(pem).fingerprint256;
    expect((await kw('cert', 'remove', fpColons)).code).toBe(0);
    expect((await kw('cert', 'list', '--tenant', tenant.id)).out).not.toContain(certFingerprint(pem));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('add from DER; a self-signed CA:TRUE certificate is accepted with a warning; a file that is no certificate exits 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-der-'));
    try {
      const selfSigned = createCa('vcenter-der');
      const der = path.join(dir, 'vc.der');
      fs.writeFileSync(der, new X509Certificate(selfSigned.cert).raw);
      const added = await kw('cert', 'add', tenant.id, der);
      expect(added.code).toBe(0);
      expect(added.out).toContain(certFingerprint(selfSigned.cert));
      expect(added.err).toMatch(/^warning: .*self-signed with CA:TRUE/m);
      const junk = path.join(dir, 'junk.bin');
      fs.writeFileSync(junk, Buffer.from([0x30, 0x82, 0x01, 0x00, 0xde, 0xad]));
      const bad = await kw('cert', 'add', tenant.id, junk);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('neither a PEM');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('vCenter trust options', () => {
  test('sign a vCenter CSR with the deployment CA and register it; export the CA', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-cli-csr-'));
    const { csr } = createCsr('vcenter.example.com');
    fs.writeFileSync(path.join(dir, 'vc.csr'), csr);
    const r = await kw('vcenter', 'sign-csr', path.join(dir, 'vc.csr'), '--out', path.join(dir, 'vc.crt'), '--register', tenant.id);
    expect(r.code).toBe(0);
    const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'vc.crt')));
    expect(cert.subject).toContain('CN=vcenter.example.com');
    expect(cert.checkIssued(new X509Certificate(stack.pki.ca.cert))).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect((await kw('cert', 'list')).out).toContain(certFingerprint(cert));
    const ca = await kw('vcenter', 'export-ca');
    expect(ca.out).toBe(stack.pki.ca.cert);
    const bad = await kw('vcenter', 'sign-csr', path.join(dir, 'missing.csr'));
    expect(bad.code).toBe(2);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('keys and root keys', () => {
  test('key list/show; rotate-and-rewrap moves every key to the new version and keys stay readable', async () => {
    const uids = [await createKey(tenant), await createKey(tenant), await createKey(tenant)];
    const before = await Promise.all(uids.map((u) => getKey(tenant, u)));
    const list = JSON.parse((await kw('--json', 'key', 'list', tenant.id, '--all')).out) as Array<{ uniqueIdentifier: string; crkVersion: string }>;
    expect(list.map((k) => k.uniqueIdentifier)).toEqual(expect.arrayContaining(uids));
    const oldVersion = list[0].crkVersion;
    const show = await kw('key', 'show', tenant.id, uids[0]);
    expect(show.out).toMatch(/state:\s+Pre-Active/);

    const rot = await kw('--json', 'rootkey', 'rotate', tenant.id);
    expect(rot.code).toBe(0);
    const res = JSON.parse(rot.out);
    expect(res.job).toMatchObject({ status: 'done', failed: 0 });
    expect(res.job.rewrapped).toBeGreaterThanOrEqual(3);
    expect(res.status.currentVersion).not.toBe(oldVersion);
    expect(res.status.keysOnOlderVersions).toBe(0);
    const after = JSON.parse((await kw('--json', 'key', 'list', tenant.id, '--all')).out) as Array<{ crkVersion: string }>;
    expect(new Set(after.map((k) => k.crkVersion))).toEqual(new Set([res.status.currentVersion]));
    const again = await Promise.all(uids.map((u) => getKey(tenant, u)));
    again.forEach((k, i) => expect(Buffer.from(k.keyMaterial).equals(Buffer.from(before[i].keyMaterial))).toBe(true));
  });

  test("key list shows vCenter's tags as columns and finds the key of one VM (--vm, --tag)", async () => {
    const t = await stack.createTenant('cli-vms');
    const [a, b, host] = [await createKey(t), await createKey(t), await createKey(t)];
    for (const [uid, name, component, id] of [[a, 'vm-alpha', 'Virtual Machine', 'id-a'], [b, 'vm-<b>', 'Virtual Machine', 'id-b'], [host, 'esx-01', 'Host', 'id-h']]) {
      await tagKey(t, uid, 'x-Name', name);
      await tagKey(t, uid, 'x-Component', component);
      await tagKey(t, uid, 'x-Identifier', id);
    }
    const all = await kw('key', 'list', t.id);
    expect(all.out).toMatch(/VM\/HOST \(x-Name\)\s+COMPONENT\s+IDENTIFIER/);
    expect(all.out).toMatch(new RegExp(`${a}\\s+Pre-Active\\s+vm-alpha\\s+Virtual Machine\\s+id-a`));
    const one = JSON.parse((await kw('--json', 'key', 'list', t.id, '--vm', 'vm-<b>')).out) as Array<{ uniqueIdentifier: string }>;
    expect(one.map((k) => k.uniqueIdentifier)).toEqual([b]);
    const hosts = JSON.parse((await kw('--json', 'key', 'list', t.id, '--tag', 'x-Component=Host')).out) as Array<{ uniqueIdentifier: string }>;
    expect(hosts.map((k) => k.uniqueIdentifier)).toEqual([host]);
    expect(JSON.parse((await kw('--json', 'key', 'list', t.id, '--vm', 'vm-alpha', '--tag', 'x-Identifier=id-b')).out)).toEqual([]);
    // Paging through matches: one per page, every match once.
    const paged = JSON.parse((await kw('--json', 'key', 'list', t.id, '--tag', 'x-Component=Virtual Machine', '--limit', '1', '--all')).out) as Array<{ uniqueIdentifier: string }>;
    expect(paged.map((k) => k.uniqueIdentifier)).toEqual([a, b]);
    expect((await kw('key', 'list', t.id, '--tag', 'no-equals')).code).toBe(2);
  });

  test('shred deletes the root key and proves the keys unusable', async () => {
    const t = await stack.createTenant('cli-shred');
    const uid = await createKey(t);
    await getKey(t, uid);
    expect((await kw('rootkey', 'shred', t.id, '--confirm', 'other')).code).toBe(2);
    const r = await kw('rootkey', 'shred', t.id, '--confirm', t.id);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/state:\s+(DELETED|DESTROYED)/);
    expect(r.out).toContain(`${uid}: unusable`);
    await expect(getKey(t, uid)).rejects.toMatchObject({ details: expect.stringMatching(/root key/i) });
  });
});
