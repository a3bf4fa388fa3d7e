import { execFileSync } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import fs from 'fs';
import http from 'http';
import { AddressInfo } from 'net';
import os from 'os';
import path from 'path';
import { call, grpc } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import { CrkWrapping, reasonOf, startCrkWrapping } from '@keywarden/crk-wrapping';
import { Credentials } from '../src/credentials';
import { DEFAULT_PROVIDER_HOSTS, HostAllowList } from '../src/providers/keyprotect/hosts';
import { failure, grpcFailure, newInstance } from './helpers';

// Tenant settings must not reach what crk-wrapping itself can read (files,
// environment variables) nor send a credential to a host the operator did
// not allow. Real files, real HTTP listeners that record whether anything
// reached them, the real gRPC service.

const API_KEY = 'trust-test-api-key';

/** A local HTTP server that records every request; answers 200 {} unless given a handler. */
interface Listener {
  port: number;
  hits: Array<{ method?: string; url?: string; body: string }>;
  close(): Promise<void>;
}

async function listen(handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Listener> {
  const hits: Listener['hits'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() });
      if (handler) handler(req, res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('credential references', () => {
  const master = randomBytes(32);
  let root: string;
  let dir: string;
  let outside: string;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-trust-'));
    dir = path.join(root, 'credentials');
    outside = path.join(root, 'data');
    fs.mkdirSync(dir);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'master.key'), 'MASTER-KEY-MATERIAL');
    fs.writeFileSync(path.join(dir, 'apikey'), 'tenant-api-key\n');
    // Kubernetes' secret volume: the names are links through "..data" to a timestamped directory.
    fs.mkdirSync(path.join(dir, '..2024_05_01_12_00_00.123'));
    fs.writeFileSync(path.join(dir, '..2024_05_01_12_00_00.123', 'pin'), '1234\n');
    fs.symlinkSync('..2024_05_01_12_00_00.123', path.join(dir, '..data'));
    fs.symlinkSync('..data/pin', path.join(dir, 'pin'));
    fs.symlinkSync('../data/master.key', path.join(dir, 'escape'));
    fs.symlinkSync(outside, path.join(dir, 'outdir'));
    fs.symlinkSync('/nonexistent/kw-target', path.join(dir, 'dangling'));
    fs.writeFileSync(path.join(dir, 'empty'), '');
    fs.writeFileSync(path.join(dir, 'big'), 'x'.repeat(10_000));
    fs.mkdirSync(path.join(dir, 'sub'));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads files inside the credentials directory, the Kubernetes secret layout included', async () => {
    const c = new Credentials(master, { dir });
    expect(await c.resolve(`file:${dir}/apikey`)).toBe('tenant-api-key');
    expect(await c.resolve(`file:${dir}/pin`)).toBe('1234');
    expect(await c.resolve(`file:${dir}/..data/pin`)).toBe('1234');
    expect(await c.resolve(`file:${dir}/./apikey`)).toBe('tenant-api-key');
  });

  it('refuses everything else with one answer that tells nothing about the file system', async () => {
    const c = new Credentials(master, { dir });
    const refs = [
      `file:${outside}/master.key`, // the attack: the deployment's master key
      'file:/etc/passwd',
      'file:/etc/nonexistent', // the oracle: missing and existing files answered alike
      `file:${dir}/../data/master.key`,
      `file:${dir}/sub/../../data/master.key`,
      `file:${dir}/escape`, // a link leading out
      `file:${dir}/outdir/master.key`, // a linked directory leading out
      `file:${dir}/dangling`,
      `file:${dir}/missing`,
      `file:${dir}/empty`,
      `file:${dir}/big`,
      `file:${dir}/sub`,
      `file:${dir}`,
      `file:${dir}/fifo`, // must not hang on open
      `file:${dir}/apikey\u0000.txt`,
      `file:${dir}/apikey\n`,
      'file:apikey',
      'file:./apikey',
      `file:file://${dir}/apikey`,
      `file://localhost${dir}/apikey`,
      'file:https://example.com/apikey',
      `file:/${'a'.repeat(5000)}`,
    ];
    const failures = [];
    for (const r of refs) failures.push(await failure(c.resolve(r)));
    for (const f of failures) {
      expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(f.message).toBe(failures[0].message);
    }
    expect(failures[0].message).toMatch(/WRAPPING_CREDENTIALS_DIR/);
    for (const leak of ['MASTER-KEY', root, 'ENOENT', 'EACCES', 'ELOOP', 'passwd']) expect(failures[0].message).not.toContain(leak);
  });

  // As root the file is readable anyway: nothing to show there.
  (process.getuid?.() === 0 ? it.skip : it)('refuses a file it may not read like any other', async () => {
    fs.writeFileSync(path.join(dir, 'locked'), 'secret');
    fs.chmodSync(path.join(dir, 'locked'), 0);
    const c = new Credentials(master, { dir });
    const a = await failure(c.resolve(`file:${dir}/locked`));
    const b = await failure(c.resolve(`file:${dir}/missing`));
    expect(a.message).toBe(b.message);
  });

  it('without a credentials directory, refuses every file: reference', async () => {
    const c = new Credentials(master);
    const f = await failure(c.resolve(`file:${dir}/apikey`));
    expect(f).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: 'BAD_REQUEST' });
    expect(f.message).toMatch(/no credentials directory \(WRAPPING_CREDENTIALS_DIR\)/);
    expect(f.message).toBe((await failure(c.resolve(`file:${outside}/master.key`))).message);
  });

  it('resolves env: only for KEYWARDEN_CRED_ variables, with one answer for the rest', async () => {
    process.env.KEYWARDEN_CRED_TRUST = 'allowed-secret';
    process.env.KEYWARDEN_MASTER_KEY_TRUST_TEST = 'not-for-tenants';
    try {
      const c = new Credentials(master);
      expect(await c.resolve('env:KEYWARDEN_CRED_TRUST')).toBe('allowed-secret');
      const refused = [];
      for (const r of ['env:KEYWARDEN_MASTER_KEY_TRUST_TEST', 'env:HOME', 'env:PATH', 'env:KEYWARDEN_CRED_', 'env:keywarden_cred_trust',
        'env:KEYWARDEN_CRED_NOT_SET', 'env:KEYWARDEN_CRED_TRUST\u0000', 'env:../KEYWARDEN_CRED_TRUST']) refused.push(await failure(c.resolve(r)));
      for (const f of refused) {
        expect(f.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(f.message).toBe(refused[0].message);
      }
      expect(refused[0].message).toMatch(/KEYWARDEN_CRED_<NAME>/);
      expect(refused[0].message).not.toContain('not-for-tenants');
    } finally {
      delete process.env.KEYWARDEN_CRED_TRUST;
      delete process.env.KEYWARDEN_MASTER_KEY_TRUST_TEST;
    }
  });

  it('refuses a credentials directory that is not one', () => {
    expect(() => new Credentials(master, { dir: 'relative' })).toThrow(/absolute/);
    expect(() => new Credentials(master, { dir: path.join(dir, 'apikey') })).toThrow(/not a directory/);
    expect(() => new Credentials(master, { dir: path.join(root, 'missing') })).toThrow(/ENOENT/);
  });
});

describe('provider host allow-list', () => {
  const url = (u: string) => new URL(u);
  const defaults = new HostAllowList(DEFAULT_PROVIDER_HOSTS);

  it('allows IBM\'s documented endpoints by default', () => {
    for (const u of [
      'https://us-south.kms.cloud.ibm.com', 'https://private.eu-de.kms.cloud.ibm.com',
      'https://0a1b-2c.api.us-south.kms.appdomain.cloud', 'https://0a1b-2c.api.private.us-south.kms.appdomain.cloud',
      'https://0a1b-2c.api.us-east.hs-crypto.appdomain.cloud', 'https://0a1b-2c.api.private.us-east.hs-crypto.appdomain.cloud',
      'https://api.us-south.hs-crypto.cloud.ibm.com:8453', 'https://api.private.eu-de.hs-crypto.cloud.ibm.com:12345',
      'https://iam.cloud.ibm.com', 'https://private.iam.cloud.ibm.com',
    ]) expect([u, defaults.allows(url(u))]).toEqual([u, true]);
  });

  it('refuses loopback, IP addresses in any spelling, and look-alike hosts by default', () => {
    for (const u of [
      'http://127.0.0.1:7080', 'http://localhost:7080', 'http://[::1]:7080', 'http://2130706433/', 'http://0x7f.1/', 'http://127.1/',
      'https://10.0.0.5', 'https://169.254.169.254', 'https://kms.cloud.ibm.com', 'https://evilkms.cloud.ibm.com',
      'https://us-south.kms.cloud.ibm.com.evil.example', 'https://us-south.kms.cloud.ibm.com.', 'https://iam.cloud.ibm.com.evil.example',
      'https://cloud.ibm.com', 'https://evil.example',
    ]) expect([u, defaults.allows(url(u))]).toEqual([u, false]);
  });

  it('takes exact hosts, ports, IP addresses listed exactly, and "default" for IBM\'s list', () => {
    const l = new HostAllowList(['default', '127.0.0.1:7080', 'kms.internal', '*.proxy.example:8443', '[::1]:9000']);
    expect(l.allows(url('http://127.0.0.1:7080'))).toBe(true);
    expect(l.allows(url('http://127.0.0.1:7081'))).toBe(false);
    expect(l.allows(url('http://2130706433:7080'))).toBe(true); // URL spells it 127.0.0.1
    expect(l.allows(url('https://kms.internal'))).toBe(true);
    expect(l.allows(url('https://kms.internal:9999'))).toBe(true); // no port listed: any
    expect(l.allows(url('https://a.proxy.example:8443'))).toBe(true);
    expect(l.allows(url('https://a.proxy.example'))).toBe(false);
    expect(l.allows(url('https://proxy.example:8443'))).toBe(false); // *. is subdomains only
    expect(l.allows(url('http://[::1]:9000'))).toBe(true);
    expect(l.allows(url('http://[0:0:0:0:0:0:0:1]:9000'))).toBe(true);
    expect(l.allows(url('https://us-south.kms.cloud.ibm.com'))).toBe(true);
  });

  it('refuses patterns it would not match as written', () => {
    for (const p of ['*.com', '*', '*.127.0.0.1', '127.1', 'https://kms.internal', 'kms.internal/path', 'user@kms.internal', 'kms.internal:0', 'kms.internal:70000', '*.[::1]', 'a..b']) {
      expect(() => new HostAllowList([p])).toThrow(/provider host pattern/);
    }
  });
});

describe('nothing is sent to a host or with a credential that is not allowed (gRPC service)', () => {
  let emu: Emulator;
  let svc: CrkWrapping;
  let client: wrappingV1.CrkWrappingClient;
  let allowed: Listener;
  let redirectTarget: Listener;
  let stranger: Listener;
  let redirecting: Listener;
  let dir: string;
  let elsewhere: string;
  let sealedKey: string;
  const base = (): wrappingV1.Provider => ({
    kind: wrappingV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emu.url, iamEndpoint: emu.url, instanceId: newInstance(emu), crkId: randomUUID(), credentialRef: sealedKey,
  });
  const check = (provider: wrappingV1.Provider) => call(client.checkRootKey, client, { provider }, 5_000);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-trust-svc-'));
    fs.writeFileSync(path.join(dir, 'emulator-key'), `${API_KEY}\n`);
    elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-trust-data-'));
    fs.writeFileSync(path.join(elsewhere, 'master.key'), randomBytes(32));
    emu = await startEmulator({ apiKeys: [API_KEY] });
    allowed = await listen();
    redirectTarget = await listen();
    stranger = await listen();
    redirecting = await listen((_req, res) => res.writeHead(307, { location: `http://localhost:${redirectTarget.port}/collect` }).end());
    svc = await startCrkWrapping({
      address: '127.0.0.1:0', masterKey: randomBytes(32), credentialsDir: dir,
      // The redirecting host and the redirect's target are allowed: only "no redirects" keeps the target out.
      providerHosts: ['default', new URL(emu.url).host, ...[allowed, redirectTarget, redirecting].map((l) => `localhost:${l.port}`)],
    });
    client = new wrappingV1.CrkWrappingClient(`127.0.0.1:${svc.port}`, grpc.credentials.createInsecure());
    sealedKey = (await call(client.sealCredential, client, { credential: Buffer.from(API_KEY) }, 5_000)).credentialRef;
  });
  afterAll(async () => {
    client?.close();
    await svc?.close();
    for (const l of [allowed, redirectTarget, stranger, redirecting]) await l?.close();
    await emu?.close();
    for (const d of [dir, elsewhere]) fs.rmSync(d, { recursive: true, force: true });
  });
  afterEach(() => {
    for (const l of [allowed, redirectTarget, stranger, redirecting]) l.hits.length = 0;
  });

  it('works with an allowed endpoint and a file: credential inside the directory', async () => {
    const res = await check({ ...base(), credentialRef: `file:${dir}/emulator-key` });
    expect(res.state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_NOT_FOUND);
  });

  it('refuses an IAM or provider URL on a host that is not listed, before the credential goes anywhere', async () => {
    const before = emu.stats().requests;
    const viaIam = await grpcFailure(check({ ...base(), iamEndpoint: `http://127.0.0.1:${stranger.port}` }));
    expect([viaIam.code, reasonOf(viaIam)]).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(viaIam.details).toMatch(/provider\.iam_endpoint host 127\.0\.0\.1:\d+ is not an allowed provider host.*WRAPPING_PROVIDER_HOSTS/);
    const viaEndpoint = await grpcFailure(check({ ...base(), endpoint: `http://127.0.0.1:${stranger.port}` }));
    expect(reasonOf(viaEndpoint)).toBe('BAD_REQUEST');
    expect(viaEndpoint.details).toMatch(/provider\.endpoint host/);
    expect(stranger.hits).toEqual([]);
    expect(emu.stats().requests).toBe(before); // not even the (allowed) IAM was asked for a token
  });

  it('refuses a file: or env: credential outside its confines before contacting anyone', async () => {
    const listenerIam = `http://localhost:${allowed.port}`;
    const refused = [];
    for (const credentialRef of [`file:${elsewhere}/master.key`, 'file:/etc/nonexistent', `file:${dir}/../x`, 'env:HOME', `file:${dir}/nope`]) {
      refused.push(await grpcFailure(check({ ...base(), iamEndpoint: listenerIam, credentialRef })));
    }
    for (const e of refused) expect([e.code, reasonOf(e)]).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
    expect(refused[1].details).toBe(refused[0].details);
    expect(refused[4].details).toBe(refused[0].details);
    expect(allowed.hits).toEqual([]);
  });

  it('refuses endpoints with credentials in them, and IP literals for a host listed by name', async () => {
    const withUser = await grpcFailure(check({ ...base(), iamEndpoint: `http://user:hunter2@localhost:${allowed.port}` }));
    expect(reasonOf(withUser)).toBe('BAD_REQUEST');
    expect(withUser.details).toMatch(/must not carry credentials/);
    expect(withUser.details).not.toContain('hunter2');
    for (const host of [`127.0.0.1:${allowed.port}`, `2130706433:${allowed.port}`, `[::ffff:127.0.0.1]:${allowed.port}`]) {
      const e = await grpcFailure(check({ ...base(), endpoint: `https://${host}` }));
      expect([host, reasonOf(e)]).toEqual([host, 'BAD_REQUEST']);
      expect(e.details).toMatch(/an IP address is allowed only when listed exactly/);
    }
    const malformed = await grpcFailure(check({ ...base(), endpoint: 'http://user:hunter2@[bad' }));
    expect(reasonOf(malformed)).toBe('BAD_REQUEST');
    expect(malformed.details).not.toContain('hunter2');
    expect(allowed.hits).toEqual([]);
  });

  it('does not follow redirects, from IAM or from the key-management API', async () => {
    const iam = await grpcFailure(check({ ...base(), iamEndpoint: `http://localhost:${redirecting.port}` }));
    expect([iam.code, reasonOf(iam)]).toEqual([grpc.status.INVALID_ARGUMENT, 'PROVIDER_REJECTED']);
    expect(iam.details).toMatch(/IAM at localhost:\d+ answered with a redirect \(HTTP 307\); crk-wrapping does not follow redirects/);
    expect(iam.details).not.toContain('/collect');
    const kp = await grpcFailure(check({ ...base(), endpoint: `http://localhost:${redirecting.port}` }));
    expect([kp.code, reasonOf(kp)]).toEqual([grpc.status.INVALID_ARGUMENT, 'PROVIDER_REJECTED']);
    expect(kp.details).toMatch(/Key Protect at localhost:\d+ answered with a redirect/);
    expect(redirecting.hits.map((h) => h.url)).toEqual(['/identity/token', expect.stringMatching(/^\/api\/v2\/keys\//)]);
    expect(redirectTarget.hits).toEqual([]);
  });
});
