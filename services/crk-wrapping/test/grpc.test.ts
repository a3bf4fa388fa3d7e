import { randomBytes, randomUUID } from 'crypto';
import { performance } from 'perf_hooks';
import {
  call, channelCredentials, checkHealth, createCa, grpc, internalIdentity, issueCertificate, kmipReasonOf, TlsFiles,
} from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import { CrkWrapping, reasonOf, startCrkWrapping } from '@keywarden/crk-wrapping';
import { grpcFailure, median, newInstance, SOFTHSM, softhsmToken, TEST_RESILIENCE } from './helpers';

// The gRPC service end to end: mTLS, real emulator, real SoftHSM2.

const API_KEY = 'grpc-test-key';
const HSM_TOKEN = 'kw-grpc-token';
const HSM_PIN = '11223344';

describe('crk-wrapping gRPC service over mTLS', () => {
  let emu: Emulator;
  let svc: CrkWrapping;
  let client: wrappingV1.CrkWrappingClient;
  let serverTls: TlsFiles;
  let clientTls: TlsFiles;
  let ca: ReturnType<typeof createCa>;
  let kp: wrappingV1.Provider;
  const ctx = (uid = randomUUID()): wrappingV1.KeyContext => ({ tenantId: 'tenant-grpc', uid });

  const rpc = <Req, Res>(m: (req: Req, md: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => grpc.ClientUnaryCall, req: Req) =>
    call(m, client, req, 5_000);

  beforeAll(async () => {
    ca = createCa('crk-wrapping test CA');
    const server = issueCertificate(ca, { commonName: 'crk-wrapping', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const lifecycle = issueCertificate(ca, internalIdentity('key-lifecycle', { usage: 'client' }));
    serverTls = { ca: Buffer.from(ca.cert), cert: Buffer.from(server.cert), key: Buffer.from(server.key) };
    clientTls = { ca: Buffer.from(ca.cert), cert: Buffer.from(lifecycle.cert), key: Buffer.from(lifecycle.key) };
    softhsmToken(HSM_TOKEN, HSM_PIN);
    emu = await startEmulator({ apiKeys: [API_KEY] });
    svc = await startCrkWrapping({
      address: '127.0.0.1:0', tls: serverTls, masterKey: randomBytes(32), metricsPort: 0, providerHosts: [new URL(emu.url).host],
      breaker: TEST_RESILIENCE.breaker, retry: TEST_RESILIENCE.retry, callTimeoutMs: 1_000,
    });
    client = new wrappingV1.CrkWrappingClient(`localhost:${svc.port}`, channelCredentials(clientTls));
    const sealedKey = (await rpc(client.sealCredential, { credential: Buffer.from(API_KEY) })).credentialRef;
    expect(sealedKey).toMatch(/^sealed:/);
    expect(sealedKey).not.toContain(Buffer.from(API_KEY).toString('base64'));
    kp = { kind: wrappingV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emu.url, iamEndpoint: emu.url, instanceId: newInstance(emu), crkId: '', credentialRef: sealedKey };
    kp.crkId = (await rpc(client.createRootKey, { provider: kp, name: 'grpc-crk' })).crkId;
  });
  afterAll(async () => {
    client?.close();
    await svc?.close();
    await emu?.close();
  });
  afterEach(() => emu.faults.clear());

  it('reports SERVING on the gRPC health service', async () => {
    expect(await checkHealth(`localhost:${svc.port}`, channelCredentials(clientTls))).toBe('SERVING');
    expect(await checkHealth(`localhost:${svc.port}`, channelCredentials(clientTls), 'keywarden.wrapping.v1.CrkWrapping')).toBe('SERVING');
  });

  it('refuses a client without a certificate from the CA', async () => {
    const stranger = createCa('stranger CA');
    const cert = issueCertificate(stranger, { commonName: 'intruder', usage: 'client' });
    const bad = new wrappingV1.CrkWrappingClient(`localhost:${svc.port}`, channelCredentials({ ca: Buffer.from(ca.cert), cert: Buffer.from(cert.cert), key: Buffer.from(cert.key) }));
    try {
      const e = await grpcFailure(call(bad.sealCredential, bad, { credential: Buffer.from('x') }, 3_000));
      expect(e.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      bad.close();
    }
  });

  it('GenerateAndSeal → Unseal → Rotate → Unseal (rewrapped) → DestroySealed', async () => {
    const c = ctx();
    const sealed = await rpc(client.generateAndSeal, { provider: kp, context: c, algorithm: 3, lengthBits: 256 });
    expect(sealed.sealedRef.length).toBeGreaterThan(0);
    const u1 = await rpc(client.unseal, { provider: kp, context: c, sealedRef: sealed.sealedRef });
    expect(u1.plaintext).toHaveLength(32);
    expect(u1.crkVersion).toBe(sealed.crkVersion);
    expect(u1.rewrappedSealedRef).toHaveLength(0);

    const check1 = await rpc(client.checkRootKey, { provider: kp });
    expect(check1).toMatchObject({ state: wrappingV1.RootKeyState.ROOT_KEY_STATE_ACTIVE, currentVersion: sealed.crkVersion, lastRotated: '' });
    const rotated = await rpc(client.rotateRootKey, { provider: kp });
    expect(rotated.crkVersion).not.toBe(sealed.crkVersion);
    expect((await rpc(client.checkRootKey, { provider: kp })).lastRotated).not.toBe('');

    const u2 = await rpc(client.unseal, { provider: kp, context: c, sealedRef: sealed.sealedRef });
    expect(u2.plaintext.equals(u1.plaintext)).toBe(true);
    expect(u2.rewrappedCrkVersion).toBe(rotated.crkVersion);
    await rpc(client.destroySealed, { provider: kp, context: c, sealedRef: sealed.sealedRef });
    const gone = await grpcFailure(rpc(client.unseal, { provider: kp, context: c, sealedRef: sealed.sealedRef }));
    expect(gone.code).toBe(grpc.status.NOT_FOUND);
    expect(reasonOf(gone)).toBe('SEALED_KEY_DELETED');
    expect(kmipReasonOf(gone)).toBe(1);
    const u3 = await rpc(client.unseal, { provider: kp, context: c, sealedRef: u2.rewrappedSealedRef });
    expect(u3.plaintext.equals(u1.plaintext)).toBe(true);

    const rw = await rpc(client.rewrap, { provider: kp, context: c, sealedRef: u2.rewrappedSealedRef });
    expect(rw).toMatchObject({ changed: false, crkVersion: rotated.crkVersion });
  });

  it('Seal (Register) of given bytes, and input validation as INVALID_ARGUMENT', async () => {
    const c = ctx();
    const material = randomBytes(24);
    const s = await rpc(client.seal, { provider: kp, context: c, plaintext: material });
    expect((await rpc(client.unseal, { provider: kp, context: c, sealedRef: s.sealedRef })).plaintext.equals(material)).toBe(true);
    const cases: Array<Promise<unknown>> = [
      rpc(client.generateAndSeal, { provider: kp, context: c, algorithm: 3, lengthBits: 100 }),
      rpc(client.generateAndSeal, { provider: kp, context: c, algorithm: 4, lengthBits: 2048 }),
      rpc(client.generateAndSeal, { provider: undefined, context: c, algorithm: 3, lengthBits: 256 }),
      rpc(client.generateAndSeal, { provider: kp, context: undefined, algorithm: 3, lengthBits: 256 }),
      rpc(client.unseal, { provider: kp, context: c, sealedRef: Buffer.from('not a ref') }),
      rpc(client.seal, { provider: { ...kp, credentialRef: 'plain-api-key' }, context: c, plaintext: material }),
      rpc(client.seal, { provider: { ...kp, endpoint: 'http://kms.example.com' }, context: c, plaintext: material }),
      rpc(client.seal, { provider: { ...kp, credentialRef: 'sealed:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, context: c, plaintext: material }),
    ];
    for (const p of cases) {
      const e = await grpcFailure(p);
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(reasonOf(e)).toBe('BAD_REQUEST');
    }
  });

  it('maps provider failures to distinct statuses with operator-readable messages', async () => {
    const c = ctx();
    const s = await rpc(client.generateAndSeal, { provider: kp, context: c, algorithm: 3, lengthBits: 128 });
    const aad = await grpcFailure(rpc(client.unseal, { provider: kp, context: { ...c, tenantId: 'another-tenant' }, sealedRef: s.sealedRef }));
    expect([aad.code, reasonOf(aad), kmipReasonOf(aad)]).toEqual([grpc.status.DATA_LOSS, 'AAD_MISMATCH', 0xa]);

    const wrongKey = await rpc(client.sealCredential, { credential: Buffer.from('not-an-api-key') });
    const auth = await grpcFailure(rpc(client.unseal, { provider: { ...kp, credentialRef: wrongKey.credentialRef }, context: c, sealedRef: s.sealedRef }));
    expect([auth.code, reasonOf(auth)]).toEqual([grpc.status.UNAUTHENTICATED, 'AUTH_FAILED']);
    expect(auth.details).not.toContain('not-an-api-key');

    emu.faults.set({ errorRate: 1, errorStatus: 429 });
    const limited = await grpcFailure(rpc(client.unseal, { provider: kp, context: c, sealedRef: s.sealedRef }));
    expect([limited.code, reasonOf(limited)]).toEqual([grpc.status.RESOURCE_EXHAUSTED, 'RATE_LIMITED']);
    emu.faults.clear();

    const doomed = { ...kp, crkId: (await rpc(client.createRootKey, { provider: kp, name: 'doomed' })).crkId };
    const s2 = await rpc(client.generateAndSeal, { provider: doomed, context: c, algorithm: 3, lengthBits: 256 });
    await rpc(client.deleteRootKey, { provider: doomed, force: false });
    await rpc(client.deleteRootKey, { provider: doomed, force: false }); // idempotent
    const revoked = await grpcFailure(rpc(client.unseal, { provider: doomed, context: c, sealedRef: s2.sealedRef }));
    expect([revoked.code, reasonOf(revoked)]).toEqual([grpc.status.FAILED_PRECONDITION, 'CRK_DELETED']);
    expect(revoked.details).toMatch(/was deleted .* every key of tenant tenant-grpc is revoked/);
    expect((await rpc(client.checkRootKey, { provider: doomed })).state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_DELETED);
  });

  it('PKCS#11 through the service: seal, unseal, and the blob as the reference', async () => {
    const pin = await rpc(client.sealCredential, { credential: Buffer.from(HSM_PIN) });
    const hsm: wrappingV1.Provider = { kind: wrappingV1.ProviderKind.PROVIDER_KIND_PKCS11, endpoint: SOFTHSM, iamEndpoint: '', instanceId: HSM_TOKEN, crkId: '', credentialRef: pin.credentialRef };
    hsm.crkId = (await rpc(client.createRootKey, { provider: hsm, name: 'tenant-crk' })).crkId;
    const c = ctx();
    const s = await rpc(client.generateAndSeal, { provider: hsm, context: c, algorithm: 3, lengthBits: 256 });
    expect(s.crkVersion).toBe('1');
    const u = await rpc(client.unseal, { provider: hsm, context: c, sealedRef: s.sealedRef });
    expect(u.plaintext).toHaveLength(32);
    await rpc(client.destroySealed, { provider: hsm, context: c, sealedRef: s.sealedRef });
  });

  it('an open breaker fails fast with UNAVAILABLE (median under 5 ms over gRPC), then recovers', async () => {
    const c = ctx();
    const s = await rpc(client.generateAndSeal, { provider: kp, context: c, algorithm: 3, lengthBits: 256 });
    emu.faults.set({ down: true });
    let last: grpc.ServiceError | undefined;
    for (let i = 0; i < 60 && reasonOf(last) !== 'BREAKER_OPEN'; i++) last = await grpcFailure(rpc(client.unseal, { provider: kp, context: c, sealedRef: s.sealedRef }));
    expect(last?.code).toBe(grpc.status.UNAVAILABLE);
    expect(reasonOf(last)).toBe('BREAKER_OPEN');
    expect(last?.details).toMatch(/circuit breaker is open/);
    expect(Object.values(svc.breakers())).toContain('open');

    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const e = await grpcFailure(rpc(client.unseal, { provider: kp, context: c, sealedRef: s.sealedRef }));
      times.push(performance.now() - t);
      expect(reasonOf(e)).toBe('BREAKER_OPEN');
    }
    expect(median(times)).toBeLessThan(5);

    emu.faults.clear();
    await new Promise((r) => setTimeout(r, TEST_RESILIENCE.breaker.resetTimeoutMs + 50));
    expect((await rpc(client.unseal, { provider: kp, context: c, sealedRef: s.sealedRef })).plaintext).toHaveLength(32);
  });

  it('exports call, latency and breaker metrics without secrets', async () => {
    const text = await (await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`)).text();
    expect(text).toMatch(/crk_wrapping_calls_total\{[^}]*provider="keyprotect",op="Unseal",result="ok"/);
    expect(text).toMatch(/crk_wrapping_calls_total\{[^}]*op="Unseal",result="data_loss"/);
    expect(text).toMatch(/crk_wrapping_call_duration_seconds_bucket\{[^}]*provider="pkcs11"/);
    expect(text).toMatch(/crk_wrapping_breaker_state\{[^}]*breaker="keyprotect 127\.0\.0\.1:\d+ instance [^"]+"/);
    expect(text).toMatch(/crk_wrapping_iam_token_refreshes_total\{[^}]*result="ok"/);
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(HSM_PIN);
    expect(text).not.toContain('tenant-grpc');
  });
});
