// The Admin API end to end (real Redis, crk-wrapping, Key Protect emulator):
// tenants, certificates and the end of access, keys, root key rotation with
// rewrap progress, crypto-shred, external root key deletion, tenant deletion.
import Redis from 'ioredis';
import { certFingerprint, channelCredentials, createCa, grpc, issueCertificate } from '@keywarden/common';
import { ObjectType, ResultReason } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { aesTemplate, failure, rpc, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(30_000);

let s: Stack;
let redis: Redis;

beforeAll(async () => {
  // Strict mode (no key cache): "revokes every Get at once" counts on every Get asking the provider.
  s = await startStack({ cacheTtlMs: 0 });
  redis = new Redis(s.redis.url);
});

afterAll(async () => {
  redis?.disconnect();
  await s?.close();
});

const KP = adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT;

async function createKeys(t: TenantHandle, n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () =>
    (await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier));
}

const get = (t: TenantHandle, uid: string) => s.call<lifecycleV1.GetResponse>('get', { caller: t.caller, uniqueIdentifier: uid });

describe('tenants', () => {
  it('validates what it is given', async () => {
    const provider = { kind: KP, endpoint: s.emulator.url, iamEndpoint: s.emulator.url, instanceId: 'i-1', crkId: '' };
    const bad = async (req: object) => (await failure(s.adm('createTenant', req))).code;
    expect(await bad({ id: 'Bad_Id', provider, credential: 'k', createRootKey: true })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await bad({ id: 'ok', provider, createRootKey: true })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await bad({ id: 'ok', provider, credential: 'k' })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await bad({ id: 'ok', provider: { ...provider, crkId: 'x' }, credential: 'k', createRootKey: true })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await bad({ id: 'ok', provider: { ...provider, endpoint: 'ftp://x' }, credential: 'k', createRootKey: true })).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await bad({ id: 'ok', provider, credentialRef: 'plain-secret', createRootKey: true })).toBe(grpc.status.INVALID_ARGUMENT);
    // An existing root key must exist and be active.
    expect(await failure(s.adm('createTenant', { id: 'ok', provider: { ...provider, crkId: '00000000-0000-0000-0000-000000000000' }, credential: 'k' })))
      .toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
  });

  it('stores the credential only sealed, and reports counts', async () => {
    const t = await s.addTenant('counted');
    await createKeys(t, 3);
    const stored = await redis.hget('kw:tenant:counted', 'credentialRef');
    expect(stored).toMatch(/^sealed:/);
    expect(JSON.stringify(await redis.hgetall('kw:tenant:counted'))).not.toContain('api-key-counted');
    const got = await s.adm<adminV1.Tenant>('getTenant', { tenantId: 'counted' });
    expect(got).toMatchObject({ id: 'counted', credentialSource: 'sealed', keyCount: 3n, certificateCount: 1 });
    expect(got.provider?.crkId).toBe(t.crkId);
    expect((await s.adm<adminV1.ListTenantsResponse>('listTenants', {})).tenants.map((x) => x.id)).toContain('counted');
    expect((await failure(s.adm('createTenant', { id: 'counted', provider: { kind: KP, endpoint: s.emulator.url, instanceId: 'i', crkId: '' }, credential: 'k', createRootKey: true }))).code)
      .toBe(grpc.status.ALREADY_EXISTS);
  });

  it('updates the name and credential but will not swap the root key under existing keys', async () => {
    const t = await s.addTenant('updated');
    await createKeys(t, 1);
    const u = await s.adm<adminV1.Tenant>('updateTenant', { tenantId: 'updated', name: 'Updated Inc.', credential: 'rotated-api-key' });
    expect(u.name).toBe('Updated Inc.');
    expect(await failure(s.adm('updateTenant', { tenantId: 'updated', provider: { kind: 0, endpoint: '', iamEndpoint: '', instanceId: '', crkId: 'another' } })))
      .toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect((await failure(s.adm('getTenant', { tenantId: 'nobody' }))).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('certificates', () => {
  it('adds a client certificate with its details, one tenant per fingerprint', async () => {
    const t = await s.addTenant('certs');
    const other = await s.addTenant('certs-other');
    const c = issueCertificate(s.ca, { commonName: 'vcenter-7', usage: 'client', organization: 'Example' });
    const added = await s.adm<adminV1.Certificate>('addCertificate', { tenantId: t.id, pem: c.cert });
    expect(added).toMatchObject({ fingerprint: certFingerprint(c.cert), tenantId: 'certs', subject: 'CN=vcenter-7, O=Example', clientAuth: true });
    expect(Date.parse(added.notAfter)).toBeGreaterThan(Date.now());
    expect((await failure(s.adm('addCertificate', { tenantId: other.id, pem: c.cert }))).code).toBe(grpc.status.ALREADY_EXISTS);
    const list = await s.adm<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: t.id });
    expect(list.certificates.map((x) => x.fingerprint).sort()).toEqual([t.caller.certFingerprint, added.fingerprint].sort());
  });

  it('explains why it refuses a certificate', async () => {
    const server = issueCertificate(s.ca, { commonName: 'a-server', usage: 'server' });
    expect(await failure(s.adm('addCertificate', { tenantId: 'certs', pem: server.cert })))
      .toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: expect.stringMatching(/lacks clientAuth.*serverAuth|serverAuth.*lacks clientAuth/) });
    expect(await failure(s.adm('addCertificate', { tenantId: 'certs', pem: server.key }))).toMatchObject({ message: expect.stringContaining('private key') });
    expect(await failure(s.adm('addCertificate', { tenantId: 'certs', pem: 'hello' }))).toMatchObject({ message: expect.stringContaining('no PEM certificate') });
    const expired = issueCertificate(s.ca, { commonName: 'old', usage: 'client', notBefore: new Date(Date.now() - 2e9), notAfter: new Date(Date.now() - 1e9) });
    expect(await failure(s.adm('addCertificate', { tenantId: 'certs', pem: expired.cert }))).toMatchObject({ message: expect.stringContaining('expired') });
    // An intermediate CA (not self-signed): the client's issuer registered by mistake.
    const intermediate = issueCertificate(createCa(), { commonName: 'vcenter issuing CA', usage: 'ca' });
    expect(await failure(s.adm('addCertificate', { tenantId: 'certs', pem: intermediate.cert }))).toMatchObject({ message: expect.stringContaining('is a CA certificate issued by') });
  });

  it('accepts a self-signed CA:TRUE certificate (pinned by fingerprint) and says why that is safe', async () => {
    const selfSigned = createCa('vcenter-selfsigned');
    const added = await s.adm<adminV1.Certificate>('addCertificate', { tenantId: 'certs', pem: selfSigned.cert });
    expect(added.fingerprint).toBe(certFingerprint(selfSigned.cert));
    expect(added.warnings).toEqual([expect.stringMatching(/self-signed with CA:TRUE.*SHA-256 fingerprint/)]);
    // Listing does not repeat the warning; it was for the moment of registration.
    const listed = (await s.adm<adminV1.ListCertificatesResponse>('listCertificates', { tenantId: 'certs' })).certificates.find((c) => c.fingerprint === added.fingerprint);
    expect(listed?.warnings).toEqual([]);
  });

  it('ends access at once when removed: Identify fails and every replica streams the revocation', async () => {
    const t = await s.addTenant('revoked');
    const [uid] = await createKeys(t, 1);
    const replica = await s.startReplica();
    const watcher = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${replica.port}`, channelCredentials(s.gatewayTls));
    const stream = watcher.watchAccessRevocations({});
    const seen: lifecycleV1.AccessRevoked[] = [];
    const got = new Promise<void>((resolve) => stream.on('data', (m: lifecycleV1.AccessRevoked) => { seen.push(m); if (m.certFingerprint === t.caller.certFingerprint) resolve(); }));
    stream.on('error', () => undefined);
    try {
      await new Promise((r) => setTimeout(r, 100)); // the stream is registered
      await s.adm('removeCertificate', { fingerprint: t.caller.certFingerprint.toUpperCase().match(/../g)?.join(':') });
      expect(await failure(s.call('identify', { caller: t.caller }))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: ResultReason.PermissionDenied });
      expect(await failure(get(t, uid))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await got;
      expect(seen.find((m) => m.certFingerprint === t.caller.certFingerprint)?.reason).toBe('certificate removed');
      expect((await failure(s.adm('removeCertificate', { fingerprint: t.caller.certFingerprint }))).code).toBe(grpc.status.NOT_FOUND);
    } finally {
      stream.cancel();
      watcher.close();
    }
  });

  it('ends its revocation streams with OK when a replica shuts down, so subscribers move on at once', async () => {
    const replica = await s.startReplica();
    const watcher = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${replica.port}`, channelCredentials(s.gatewayTls));
    const stream = watcher.watchAccessRevocations({});
    try {
      await new Promise<void>((resolve) => stream.once('metadata', () => resolve())); // subscribed
      const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
      const errors: Error[] = [];
      stream.on('error', (e: Error) => errors.push(e));
      await replica.close();
      // Ended by the replica (status OK), not found broken when a keepalive ping (30 s) goes unanswered.
      let timer: NodeJS.Timeout | undefined;
      const stillOpen = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still open after 5 s'), 5000); });
      expect(await Promise.race([status.then((st) => st.code), stillOpen])).toBe(grpc.status.OK);
      clearTimeout(timer);
      expect(errors).toEqual([]);
    } finally {
      stream.cancel();
      watcher.close();
    }
  });

  it('ends its revocation streams after its Redis subscription was cut, since revocations published meanwhile were missed', async () => {
    const t = await s.addTenant('resync');
    const replica = await s.startReplica();
    const watcher = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${replica.port}`, channelCredentials(s.gatewayTls));
    const subscribe = async () => {
      const st = watcher.watchAccessRevocations({});
      const seen: string[] = [];
      st.on('data', (m: lifecycleV1.AccessRevoked) => seen.push(m.certFingerprint));
      st.on('error', () => undefined);
      const status = new Promise<grpc.StatusObject>((resolve) => st.on('status', resolve));
      await new Promise<void>((resolve) => st.once('metadata', () => resolve()));
      return { st, seen, status };
    };
    const first = await subscribe();
    let second: Awaited<ReturnType<typeof subscribe>> | undefined;
    try {
      // Cut every pub/sub connection, as a Redis restart or failover does; ioredis reconnects and resubscribes.
      expect(Number(await redis.client('KILL', 'TYPE', 'pubsub'))).toBeGreaterThan(0);
      let timer: NodeJS.Timeout | undefined;
      const stillOpen = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still open after 5 s'), 5000); });
      expect(await Promise.race([first.status.then((st) => st.code), stillOpen])).toBe(grpc.status.OK);
      clearTimeout(timer);
      // A new subscription on the same replica gets revocations again.
      second = await subscribe();
      await new Promise((r) => setTimeout(r, 100));
      await s.adm('removeCertificate', { fingerprint: t.caller.certFingerprint });
      for (let i = 0; i < 50 && !second.seen.includes(t.caller.certFingerprint); i++) await new Promise((r) => setTimeout(r, 100));
      expect(second.seen).toContain(t.caller.certFingerprint);
    } finally {
      first.st.cancel();
      second?.st.cancel();
      watcher.close();
    }
  });
});

describe('keys', () => {
  it('lists a tenant\'s keys page by page and shows one', async () => {
    const t = await s.addTenant('listed');
    const uids: string[] = [];
    for (let i = 0; i < 5; i++) uids.push(...(await createKeys(t, 1)));
    const seen: string[] = [];
    let token = '';
    do {
      const page = await s.adm<adminV1.ListKeysResponse>('listKeys', { tenantId: t.id, limit: 2, pageToken: token });
      seen.push(...page.keys.map((k) => k.uniqueIdentifier));
      token = page.nextPageToken;
    } while (token);
    expect(seen).toEqual(uids);
    const info = await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uids[0] });
    expect(info).toMatchObject({ uniqueIdentifier: uids[0], tenantId: t.id, objectType: 2, state: 1, cryptographicAlgorithm: 3, cryptographicLength: 256, createdBy: t.caller.certFingerprint });
    expect(info.crkVersion).not.toBe('');
    expect(info.attributes.map((x) => x.name)).toContain('Initial Date');
    expect((await failure(s.adm('getKey', { tenantId: 'counted', uniqueIdentifier: uids[0] }))).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('root keys', () => {
  it('rotates, then a rewrap job moves every key to the new version with streamed progress', async () => {
    const t = await s.addTenant('rotated');
    const uids = await createKeys(t, 12);
    const before = await Promise.all(uids.map((u) => get(t, u)));
    const v1 = await s.adm<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId: t.id });
    expect(v1).toMatchObject({ state: 'ACTIVE', crkId: t.crkId, keysOnOlderVersions: 0n });
    const v2 = await s.adm<adminV1.RootKeyStatus>('rotateRootKey', { tenantId: t.id });
    expect(v2.currentVersion).not.toBe(v1.currentVersion);
    expect(v2.keysOnOlderVersions).toBe(12n);

    const job = await s.adm<adminV1.RewrapJob>('startRewrap', { tenantId: t.id });
    expect(job).toMatchObject({ tenantId: t.id, status: 'running', total: 12n, targetVersion: v2.currentVersion });
    const updates: adminV1.RewrapJob[] = [];
    await new Promise<void>((resolve, reject) => {
      const st = s.admin.watchRewrap({ jobId: job.jobId });
      st.on('data', (j: adminV1.RewrapJob) => updates.push(j));
      st.on('end', resolve);
      st.on('error', reject);
    });
    const last = updates[updates.length - 1];
    expect(last).toMatchObject({ status: 'done', done: 12n, rewrapped: 12n, failed: 0n, error: '' });
    const dones = updates.map((u) => Number(u.done));
    expect(dones).toEqual([...dones].sort((x, y) => x - y));
    expect((await s.adm<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId: t.id })).keysOnOlderVersions).toBe(0n);
    const after = await Promise.all(uids.map((u) => get(t, u)));
    expect(after.map((k) => k.keyMaterial)).toEqual(before.map((k) => k.keyMaterial));
    const info = await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uids[0] });
    expect(info.crkVersion).toBe(v2.currentVersion);
    const missing = await new Promise<grpc.ServiceError>((resolve) => s.admin.watchRewrap({ jobId: 'nope' }).on('error', resolve).on('data', () => undefined));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
  });

  it('counts as on older versions only keys a rewrap would move: not destroyed ones, nor public keys', async () => {
    const t = await s.addTenant('rotated-mixed');
    const uids = await createKeys(t, 3);
    await s.call('destroy', { caller: t.caller, uniqueIdentifier: uids[0] });
    const attr = (name: string, value: lifecycleV1.AttributeValue): lifecycleV1.Attribute => ({ name, index: 0, value });
    await s.call('createKeyPair', {
      caller: t.caller, commonAttributes: [attr('Cryptographic Algorithm', { enumeration: 4 }), attr('Cryptographic Length', { integer: 2048 })],
      privateKeyAttributes: [], publicKeyAttributes: [],
    });
    // Live: 2 symmetric keys, a private key (sealed) and a public key (not sealed); 1 destroyed.
    expect((await s.adm<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId: t.id })).keysOnOlderVersions).toBe(0n);
    expect((await s.adm<adminV1.RootKeyStatus>('rotateRootKey', { tenantId: t.id })).keysOnOlderVersions).toBe(3n);
    const job = await s.adm<adminV1.RewrapJob>('startRewrap', { tenantId: t.id });
    await new Promise<void>((resolve, reject) => {
      const st = s.admin.watchRewrap({ jobId: job.jobId });
      st.on('data', () => undefined);
      st.on('end', resolve);
      st.on('error', reject);
    });
    expect((await s.adm<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId: t.id })).keysOnOlderVersions).toBe(0n);
  });

  it('Get moves a key to the newest root key version by itself after a rotation', async () => {
    const t = await s.addTenant('lazy');
    const [uid] = await createKeys(t, 1);
    const v2 = await s.adm<adminV1.RootKeyStatus>('rotateRootKey', { tenantId: t.id });
    await get(t, uid);
    for (let i = 0; i < 50; i++) {
      if ((await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).crkVersion === v2.currentVersion) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await s.adm<adminV1.KeyInfo>('getKey', { tenantId: t.id, uniqueIdentifier: uid })).crkVersion).toBe(v2.currentVersion);
  });

  it('crypto-shreds: after ShredRootKey every Get of the tenant fails with a clear reason', async () => {
    const t = await s.addTenant('shredded');
    const uids = await createKeys(t, 3);
    await get(t, uids[0]);
    expect((await failure(s.adm('shredRootKey', { tenantId: t.id, confirmTenantId: 'other' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    const st = await s.adm<adminV1.RootKeyStatus>('shredRootKey', { tenantId: t.id, confirmTenantId: t.id });
    expect(st.detail).toContain('crypto-shredded');
    for (const uid of uids) {
      expect(await failure(get(t, uid))).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, reason: ResultReason.PermissionDenied, message: expect.stringContaining('crypto-shredded') });
    }
    expect(await failure(createKeys(t, 1))).toMatchObject({ message: expect.stringContaining('crypto-shredded') });
    expect((await failure(s.adm('startRewrap', { tenantId: t.id }))).code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it('a root key deleted in the provider revokes every Get at once; one deleted wrapped key revokes that key', async () => {
    const t = await s.addTenant('external');
    const uids = await createKeys(t, 3);
    // The customer deletes one standard key in Key Protect: that one key is revoked.
    const list = (await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body as { resources: Array<{ id: string; name: string }> };
    const std = list.resources.find((k) => k.name === `kmip-${uids[0]}`);
    expect((await s.keyProtect('DELETE', `keys/${std?.id}`, t.instanceId)).status).toBeLessThan(300);
    expect(await failure(get(t, uids[0]))).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, message: expect.stringContaining('revokes this key') });
    await expect(get(t, uids[1])).resolves.toBeDefined();
    // Then the root key itself.
    expect((await s.keyProtect('DELETE', `keys/${t.crkId}?force=true`, t.instanceId)).status).toBeLessThan(300);
    for (const uid of uids.slice(1)) {
      expect(await failure(get(t, uid))).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, message: expect.stringContaining('root key was deleted') });
    }
    expect((await s.adm<adminV1.RootKeyStatus>('getRootKeyStatus', { tenantId: t.id })).state).toMatch(/DELETED|DESTROYED/);
  });

  it('with the key cache, a provider-side deletion takes effect within the cache lifetime', async () => {
    const ttl = 600;
    const replica = await s.startReplica({ cacheTtlMs: ttl });
    const cached = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${replica.port}`, channelCredentials(s.gatewayTls));
    try {
      const t = await s.addTenant('cached');
      const [uid] = await createKeys(t, 1);
      const first = await rpc<lifecycleV1.GetResponse>(cached, 'get', { caller: t.caller, uniqueIdentifier: uid });
      expect((await s.keyProtect('DELETE', `keys/${t.crkId}?force=true`, t.instanceId)).status).toBeLessThan(300);
      const deletedAt = Date.now();
      // Served from the cache until it expires, never after.
      let failedAt = 0;
      while (!failedAt) {
        try {
          const again = await rpc<lifecycleV1.GetResponse>(cached, 'get', { caller: t.caller, uniqueIdentifier: uid });
          expect(again.keyMaterial).toEqual(first.keyMaterial);
          expect(Date.now() - deletedAt).toBeLessThan(ttl + 200);
        } catch {
          failedAt = Date.now();
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(failedAt - deletedAt).toBeLessThanOrEqual(ttl + 200);
    } finally {
      cached.close();
    }
  });

  it('forgets the key cache when its Redis subscription was cut (invalidations may have been missed)', async () => {
    const replica = await s.startReplica({ cacheTtlMs: 600_000 });
    const cached = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${replica.port}`, channelCredentials(s.gatewayTls));
    try {
      const t = await s.addTenant('cache-resync');
      const [uid] = await createKeys(t, 1);
      const first = await rpc<lifecycleV1.GetResponse>(cached, 'get', { caller: t.caller, uniqueIdentifier: uid });
      expect((await s.keyProtect('DELETE', `keys/${t.crkId}?force=true`, t.instanceId)).status).toBeLessThan(300);
      // Within the cache lifetime the deleted root key does not show yet.
      expect((await rpc<lifecycleV1.GetResponse>(cached, 'get', { caller: t.caller, uniqueIdentifier: uid })).keyMaterial).toEqual(first.keyMaterial);
      expect(Number(await redis.client('KILL', 'TYPE', 'pubsub'))).toBeGreaterThan(0);
      let failure: unknown;
      for (let i = 0; i < 50 && !failure; i++) {
        await new Promise((r) => setTimeout(r, 100));
        failure = await rpc<lifecycleV1.GetResponse>(cached, 'get', { caller: t.caller, uniqueIdentifier: uid }).then(() => undefined, (e: unknown) => e);
      }
      expect(failure).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    } finally {
      cached.close();
    }
  });
});

describe('tenant deletion', () => {
  it('removes certificates, keys, wrapped keys and, when asked, the root key', async () => {
    const t = await s.addTenant('deleted');
    await createKeys(t, 4);
    const extra = await s.addClient(t.id);
    const res = await s.adm<adminV1.DeleteTenantResponse>('deleteTenant', { tenantId: t.id, confirmTenantId: t.id, deleteRootKey: true });
    expect(res).toEqual({ keysDeleted: 4n, certificatesRemoved: 2 });
    expect((await failure(s.call('identify', { caller: t.caller }))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await failure(s.call('identify', { caller: extra }))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await redis.keys('kw:t:deleted:*')).toEqual([]);
    expect(await redis.exists('kw:tenant:deleted')).toBe(0);
    const left = (await s.keyProtect('GET', 'keys?limit=5000', t.instanceId)).body as { resources?: unknown[] };
    expect(left.resources ?? []).toEqual([]);
    expect((await failure(s.adm('getTenant', { tenantId: t.id }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await failure(s.adm('deleteTenant', { tenantId: 'x', confirmTenantId: 'y' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

