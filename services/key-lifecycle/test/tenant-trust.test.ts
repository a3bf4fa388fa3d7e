// Tenant settings against the trust boundary of crk-wrapping, through the
// Admin API of a real stack (Redis, emulator, crk-wrapping, key-lifecycle):
// a credential reference cannot name files or variables of the service, a
// tenant's URLs cannot point its credential at another host, and moving a
// tenant to another endpoint needs the credential again. A local listener
// records whether anything reached it.
import fs from 'fs';
import http from 'http';
import { AddressInfo } from 'net';
import os from 'os';
import path from 'path';
import { grpc } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { failure, Stack, startStack } from './stack';

const KP = adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT;

let s: Stack;
let listener: http.Server;
let hits: string[];
let listenerUrl: string;
let dataDir: string;

beforeAll(async () => {
  s = await startStack();
  hits = [];
  listener = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      hits.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"t","expires_in":3600}');
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  // Stands for the deployment's data directory: the master key file the attack named.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-tenant-trust-'));
  fs.writeFileSync(path.join(dataDir, 'master.key'), 'MASTER-KEY-OF-THE-DEPLOYMENT');
}, 60_000);
afterAll(async () => {
  listener.closeAllConnections();
  await new Promise((resolve) => listener.close(resolve));
  await s?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
afterEach(() => { hits.length = 0; });

const provider = (over: Partial<adminV1.ProviderConfig> = {}) => ({ kind: KP, endpoint: s.emulator.url, iamEndpoint: s.emulator.url, instanceId: 'i-trust', crkId: '', ...over });
const tenantExists = async (id: string) => (await s.adm<adminV1.ListTenantsResponse>('listTenants', {})).tenants.some((t) => t.id === id);

describe('credential_ref', () => {
  it('refuses references outside what crk-wrapping may read, before anything is stored or sent', async () => {
    const cases: Array<[string, RegExp]> = [
      [`file:${dataDir}/master.key`, /credentials directory/], // syntactically fine: crk-wrapping refuses it (no directory here)
      ['file:relative/apikey', /not absolute/],
      [`file:${dataDir}/../etc/passwd`, /"\.\." is not allowed/],
      ['file:/run/secrets/key\u0000.txt', /control character/],
      ['file:file:///etc/passwd', /a URL is not a path/],
      ['file://attacker.example/share/key', /a URL is not a path/],
      ['env:HOME', /KEYWARDEN_CRED_<NAME>/],
      ['env:KEYWARDEN_MASTER_KEY', /KEYWARDEN_CRED_<NAME>/],
      ['https://attacker.example/key', /must be "file:/],
    ];
    for (const [credentialRef, message] of cases) {
      const f = await failure(s.adm('createTenant', { id: 'evil', provider: provider({ iamEndpoint: s.emulator.url }), credentialRef, createRootKey: true }));
      expect([credentialRef, f.code]).toEqual([credentialRef, grpc.status.INVALID_ARGUMENT]);
      expect(f.message).toMatch(message);
      expect(f.message).not.toContain('MASTER-KEY');
    }
    expect(await tenantExists('evil')).toBe(false);
  });

  it('the attack: a file: reference to the master key with the IAM URL on a listener delivers nothing', async () => {
    for (const credentialRef of [`file:${dataDir}/master.key`, 'file:/etc/nonexistent', 'env:HOME', 'env:KEYWARDEN_CRED_NOT_SET']) {
      const f = await failure(s.adm('createTenant', { id: 'evil', provider: provider({ iamEndpoint: listenerUrl }), credentialRef, createRootKey: true }));
      expect([credentialRef, hits]).toEqual([credentialRef, []]);
      expect([credentialRef, f.code]).toEqual([credentialRef, grpc.status.INVALID_ARGUMENT]);
    }
    // Even a credential of its own does not reach a host crk-wrapping does not allow.
    const own = await failure(s.adm('createTenant', { id: 'evil', provider: provider({ iamEndpoint: listenerUrl }), credential: 'evil-api-key', createRootKey: true }));
    expect(own.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(own.message).toMatch(/iam_endpoint host 127\.0\.0\.1:\d+ is not an allowed provider host/);
    expect(hits).toEqual([]);
    expect(await tenantExists('evil')).toBe(false);
  });
});

describe('UpdateTenant', () => {
  it('will not move a tenant\'s stored credential to another IAM URL, endpoint, instance or kind', async () => {
    const t = await s.addTenant('victim');
    const before = await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id });
    const changes: Array<[string, Partial<adminV1.ProviderConfig>]> = [
      ['provider.iam_endpoint', { iamEndpoint: listenerUrl }],
      ['provider.endpoint', { endpoint: listenerUrl }],
      ['provider.instance_id', { instanceId: 'another-instance' }],
      ['provider.kind', { kind: adminV1.ProviderKind.PROVIDER_KIND_HPCS }],
    ];
    for (const [field, p] of changes) {
      const f = await failure(s.adm('updateTenant', { tenantId: t.id, provider: { kind: 0, endpoint: '', iamEndpoint: '', instanceId: '', crkId: '', ...p } }));
      expect([field, f.code]).toEqual([field, grpc.status.INVALID_ARGUMENT]);
      expect(f.message).toContain(`changing ${field} would send the tenant's stored credential to another place`);
    }
    expect(hits).toEqual([]);
    expect(await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id })).toEqual(before);
  });

  it('with the credential given again, a host crk-wrapping does not allow is still refused and gets nothing', async () => {
    const t = await s.addTenant('mover');
    const f = await failure(s.adm('updateTenant', {
      tenantId: t.id, provider: { kind: 0, endpoint: listenerUrl, iamEndpoint: '', instanceId: '', crkId: '' }, credential: `api-key-${t.id}`,
    }));
    expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.message).toMatch(/provider\.endpoint host 127\.0\.0\.1:\d+ is not an allowed provider host/);
    expect(hits).toEqual([]);
    expect((await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id })).provider?.endpoint).toBe(s.emulator.url);
  });

  it('moves a tenant to another allowed endpoint when the credential comes with it', async () => {
    const t = await s.addTenant('moved');
    const respelled = `${s.emulator.url}/api/v2`; // the same service, written differently: still a change
    const u = await s.adm<adminV1.Tenant>('updateTenant', {
      tenantId: t.id, provider: { kind: 0, endpoint: respelled, iamEndpoint: '', instanceId: '', crkId: '' }, credential: `api-key-${t.id}`,
    });
    expect(u.provider?.endpoint).toBe(respelled);
    // Name and crk-independent changes need no credential.
    expect((await s.adm<adminV1.Tenant>('updateTenant', { tenantId: t.id, name: 'Moved Inc.' })).name).toBe('Moved Inc.');
  });
});
