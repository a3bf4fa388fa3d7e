// What a KMIP client reads when the key service or the root-key provider
// fails: a fixed text and a correlation id, never the internals (addresses,
// provider instance ids, grpc-js transport errors); the gateway logs the same
// id with the details. Over the real stack: a key-lifecycle whose
// crk-wrapping is unreachable, a key-lifecycle that is gone, a Key Protect
// emulator that is stopped.
import net from 'net';
import { Writable } from 'stream';
import { randomUUID } from 'crypto';
import pino from 'pino';
import { KmipError, Operation, ResultReason, ResultStatus, vcenter } from '@keywarden/kmip';
import { KMIP_REASON_METADATA, certFingerprint, grpc, issueCertificate } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { Gateway, LifecycleBackend, grpcLifecycleBackend, logItemFailure, startGateway, toItemResult } from '@keywarden/kmip-gateway';
import { KeyLifecycle, startKeyLifecycle } from '@keywarden/key-lifecycle';
import { KmipClient, TestStack, TestTenant, startStack } from '../../../test/lib';

/** A pino logger (JSON lines, as createLogger writes them) into memory. */
function capturingLogger(): { log: pino.Logger; entries: () => Array<Record<string, unknown>> } {
  let text = '';
  const sink = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } });
  return {
    log: pino({ level: 'debug', base: { service: 'kmip-gateway' } }, sink),
    entries: () => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const REF = /\(ref ([0-9a-f]{8})\)$/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
/** Texts of grpc-js and Node's network errors, and names of the services behind the gateway. */
const INTERNALS = [/No connection established/i, /Last error/i, /ECONNREFUSED/, /ECONNRESET/, /127\.0\.0\.1/, /localhost/, /:\d{2,5}\b/, /crk-wrapping/i,
  /key-lifecycle/i, /Key Protect/i, /breaker/i, /instance/i, /\b1[0-9]? [A-Z_]{5,}:/];

function expectNoInternals(message: string, extra: string[] = []): void {
  for (const re of INTERNALS) expect(message).not.toMatch(re);
  for (const s of extra) expect(message).not.toContain(s);
  expect(message).not.toMatch(UUID);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let stack: TestStack;
let tenant: TestTenant;
const instanceId = randomUUID();

beforeAll(async () => {
  stack = await startStack();
  // A tenant of our own, so that its provider instance id is known to look for.
  const id = `errtexts-${randomUUID().slice(0, 8)}`;
  stack.emulator.createInstance(instanceId);
  await stack.adminCall('createTenant', {
    id, name: id, credential: 'test-api-key', createRootKey: true,
    provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: stack.emulatorUrl, iamEndpoint: stack.emulatorUrl, instanceId, crkId: '' },
  });
  const client = issueCertificate(null, { commonName: `vcenter-${id}`, usage: 'client' });
  await stack.adminCall('addCertificate', { tenantId: id, pem: client.cert });
  tenant = { id, client };
}, 60_000);

afterAll(async () => {
  await stack?.close();
}, 30_000);

interface Front { gw: Gateway; backend: LifecycleBackend; entries: () => Array<Record<string, unknown>> }

async function gatewayInFrontOf(lifecyclePort: number): Promise<Front> {
  const { log, entries } = capturingLogger();
  const backend = grpcLifecycleBackend({ address: `localhost:${lifecyclePort}`, tls: stack.pki.gateway, deadlineMs: 4000 });
  const gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, logger: log });
  return { gw, backend, entries };
}

async function closeFront(f: Front | undefined): Promise<void> {
  await f?.gw.close(200);
  f?.backend.close();
}

const connect = (f: Front) => KmipClient.connect({ port: f.gw.port, ca: stack.pki.ca.cert, cert: tenant.client.cert, key: tenant.client.key });

/**
 * Sends Create, expects it to fail with a message free of internals (and of
 * `secrets`), and returns the message, its ref and the gateway's log entry for it.
 */
async function failedCreate(c: KmipClient, f: Front, secrets: string[]): Promise<{ message: string; ref: string; logged: Record<string, unknown> }> {
  const item = (await c.send(vcenter.create(1))).batchItems[0];
  expect(item.resultStatus).toBe(ResultStatus.OperationFailed);
  expect(item.resultReason).toBe(ResultReason.GeneralFailure);
  const message = item.resultMessage as string;
  expectNoInternals(message, secrets);
  const ref = REF.exec(message)?.[1];
  expect(ref).toBeDefined();
  const logged = f.entries().filter((e) => e.ref === ref);
  expect(logged).toHaveLength(1);
  return { message, ref: ref!, logged: logged[0] };
}

describe('through the gateway', () => {
  test('crk-wrapping unreachable, then key-lifecycle gone: fixed texts with a ref; the log has the ref and the details', async () => {
    const deadPort = await freePort();
    let lifecycle: KeyLifecycle | undefined = await startKeyLifecycle({
      address: '127.0.0.1:0', tls: stack.pki.lifecycle, redisUrl: stack.redis.url,
      wrappingAddress: `localhost:${deadPort}`, wrappingTls: stack.pki.lifecycle,
    });
    const lifecyclePort = lifecycle.port;
    const front = await gatewayInFrontOf(lifecyclePort);
    const c = await connect(front);
    try {
      const fp = certFingerprint(tenant.client.cert);
      const secrets = [String(deadPort), String(lifecyclePort)];
      const first = await failedCreate(c, front, secrets);
      expect(first.message).toMatch(/^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/);
      // The operator's side: warn level, the gRPC status, the cause key-lifecycle passed on (naming the unreachable address), the operation and the client.
      expect(first.logged).toMatchObject({ level: 40, msg: 'batch item failed', grpcCode: 'UNAVAILABLE', operation: Operation.Create, fingerprint: fp });
      expect(first.logged.cause).toEqual(expect.stringContaining(`:${deadPort}`));

      const second = await failedCreate(c, front, secrets);
      expect(second.ref).not.toBe(first.ref);

      // key-lifecycle itself gone: the connection is identified already, so each item reaches the backend call.
      await lifecycle.close();
      lifecycle = undefined;
      const gone = await failedCreate(c, front, secrets);
      expect(gone.message).toMatch(/^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/);
      expect(gone.logged).toMatchObject({ level: 40, grpcCode: 'UNAVAILABLE', operation: Operation.Create, fingerprint: fp });
      expect(gone.logged.details).toEqual(expect.stringMatching(/No connection established|ECONNREFUSED|Connection dropped/));
    } finally {
      await c.close();
      await closeFront(front);
      await lifecycle?.close();
    }
  }, 60_000);

  test('the Key Protect emulator stopped: no provider address or instance id reaches the client, the log has both', async () => {
    const front = await gatewayInFrontOf(stack.lifecyclePort);
    const c = await connect(front);
    try {
      const ok = (await c.send(vcenter.create(1))).batchItems[0];
      expect(ok.resultStatus).toBe(ResultStatus.Success);
      const emulatorHost = new URL(stack.emulatorUrl).host;
      await stack.emulator.close();
      const details: string[] = [];
      // Until crk-wrapping's breaker for the instance opens (its text names the instance id).
      for (let i = 0; i < 20 && !details.some((d) => d.includes(instanceId)); i++) {
        const f = await failedCreate(c, front, [emulatorHost, instanceId, tenant.id]);
        expect(f.message).toMatch(/^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/);
        expect(f.logged).toMatchObject({ level: 40, grpcCode: 'UNAVAILABLE', operation: Operation.Create });
        details.push(String(f.logged.cause));
      }
      expect(details.some((d) => d.includes(emulatorHost))).toBe(true);
      expect(details.some((d) => d.includes(instanceId))).toBe(true);
    } finally {
      await c.close();
      await closeFront(front);
    }
  }, 60_000);
});

describe('toItemResult', () => {
  const grpcError = (code: grpc.status, details: string, kmipReason?: number) => {
    const metadata = new grpc.Metadata();
    if (kmipReason !== undefined) metadata.set(KMIP_REASON_METADATA, String(kmipReason));
    return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
  };
  const secret = 'cannot reach Key Protect at 127.0.0.1:7080 (instance 6f9e5a0e-1111-4222-8333-944455556666 breaker open)';

  const named = <T extends unknown[]>(rows: Array<[grpc.status, ...T]>) => rows.map(([code, ...rest]) => [grpc.status[code], code, ...rest] as [string, grpc.status, ...T]);

  test.each(named<[string, number, number | undefined]>([
    [grpc.status.NOT_FOUND, 'no object with unique identifier "x"', ResultReason.ItemNotFound, undefined],
    [grpc.status.PERMISSION_DENIED, 'client certificate is not registered with any tenant', ResultReason.PermissionDenied, undefined],
    [grpc.status.INVALID_ARGUMENT, 'Cryptographic Length must be 128, 192 or 256', ResultReason.InvalidField, undefined],
    [grpc.status.FAILED_PRECONDITION, 'the object is not Pre-Active', ResultReason.IllegalOperation, undefined],
    [grpc.status.FAILED_PRECONDITION, "get: the tenant's root key was deleted in the provider", ResultReason.PermissionDenied, ResultReason.PermissionDenied],
    [grpc.status.OUT_OF_RANGE, 'too many instances', ResultReason.IndexOutOfBounds, undefined],
  ]))('a client error (%s) keeps its message and reason, and carries no ref', (_name, code, details, reason, kmipReason) => {
    const r = toItemResult(grpcError(code, details, kmipReason));
    expect(r).toEqual({ resultStatus: ResultStatus.OperationFailed, resultReason: reason, resultMessage: details, unexpected: false });
  });

  test.each(named<[RegExp, boolean]>([
    [grpc.status.UNAVAILABLE, /^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/, true],
    [grpc.status.DEADLINE_EXCEEDED, /^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/, true],
    [grpc.status.RESOURCE_EXHAUSTED, /^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/, true],
    [grpc.status.ABORTED, /^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/, true],
    [grpc.status.INTERNAL, /^internal server error \(ref [0-9a-f]{8}\)$/, false],
    [grpc.status.UNKNOWN, /^internal server error \(ref [0-9a-f]{8}\)$/, false],
    [grpc.status.DATA_LOSS, /^internal server error \(ref [0-9a-f]{8}\)$/, false],
    [grpc.status.CANCELLED, /^internal server error \(ref [0-9a-f]{8}\)$/, false],
  ]))('%s: a fixed text with a new ref, the details withheld', (_name, code, text, transient) => {
    const a = toItemResult(grpcError(code, secret));
    const b = toItemResult(grpcError(code, secret));
    expect(a).toMatchObject({ resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.GeneralFailure, unexpected: true, transient });
    expect(a.resultMessage).toMatch(text);
    expect(a.resultMessage).toContain(`(ref ${a.ref})`);
    expect(a.ref).not.toBe(b.ref);
  });

  test('a provider or internal failure keeps a specific KMIP reason the service named, but not its text', () => {
    const r = toItemResult(grpcError(grpc.status.INTERNAL, secret, ResultReason.CryptographicFailure));
    expect(r.resultReason).toBe(ResultReason.CryptographicFailure);
    expect(r.resultMessage).toMatch(/^internal server error \(ref [0-9a-f]{8}\)$/);
  });

  test('the gateway\'s own errors: a KMIP client error keeps its text; General Failure and anything thrown get the fixed text', () => {
    expect(toItemResult(new KmipError(ResultReason.InvalidField, 'Create supports Object Type Symmetric Key only'))).toEqual({
      resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.InvalidField, resultMessage: 'Create supports Object Type Symmetric Key only', unexpected: false,
    });
    expect(toItemResult(new KmipError(ResultReason.GeneralFailure, secret)).resultMessage).toMatch(/^internal server error \(ref [0-9a-f]{8}\)$/);
    expect(toItemResult(new TypeError(secret)).resultMessage).toMatch(/^internal server error \(ref [0-9a-f]{8}\)$/);
  });

  test('logItemFailure: transient at warn, internal at error, each with the ref, status and details', () => {
    const { log, entries } = capturingLogger();
    const t = toItemResult(grpcError(grpc.status.UNAVAILABLE, secret));
    logItemFailure(log, t, grpcError(grpc.status.UNAVAILABLE, secret), { operation: Operation.Get, fingerprint: 'ab'.repeat(32) });
    const i = toItemResult(grpcError(grpc.status.DATA_LOSS, secret));
    logItemFailure(log, i, grpcError(grpc.status.DATA_LOSS, secret), { operation: Operation.Get, fingerprint: 'ab'.repeat(32) });
    expect(entries()).toEqual([
      expect.objectContaining({ level: 40, ref: t.ref, grpcCode: 'UNAVAILABLE', details: secret, operation: Operation.Get, fingerprint: 'ab'.repeat(32) }),
      expect.objectContaining({ level: 50, ref: i.ref, grpcCode: 'DATA_LOSS', details: secret }),
    ]);
  });
});
