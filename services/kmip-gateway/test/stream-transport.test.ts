// The gateway → key-lifecycle hop over Relay streams (docs/architecture.md,
// "The gateway's transport"): load spread over two key-lifecycle replicas, a
// replica lost mid-load (reads go on elsewhere, a change in flight is answered
// with an error and never run twice), deadlines against a replica that stops
// answering (a late answer is ignored), a replica that joins later getting its
// share, certificates that may not open the stream, and an older key-lifecycle
// without Relay. Real Redis, emulator, crk-wrapping, two key-lifecycle
// replicas, mTLS; each replica sits behind a TCP relay that can cut or stall.
import net from 'net';
import { Writable } from 'stream';
import pino from 'pino';
import { grpc, serverCredentials } from '@keywarden/common';
import { ResultStatus, vcenter } from '@keywarden/kmip';
import { KeyLifecycle, KeyLifecycleOptions, startKeyLifecycle } from '@keywarden/key-lifecycle';
import { Gateway, GrpcBackendOptions, LifecycleBackend, grpcLifecycleBackend, startGateway } from '@keywarden/kmip-gateway';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { KmipClient, TestStack, TestTenant, startStack } from '../../../test/lib';

jest.setTimeout(90_000);

/** A pino logger (JSON lines) into memory. */
function capturingLogger(): { log: pino.Logger; entries: () => Array<Record<string, unknown>> } {
  let text = '';
  const sink = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } });
  return {
    log: pino({ level: 'info', base: { service: 'kmip-gateway' } }, sink),
    entries: () => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/**
 * A TCP relay in front of a replica: `cut` resets every connection and
 * refuses new ones (a replica lost, from the gateway's side), `stall` stops
 * forwarding without closing anything (a replica that hangs), `resume` sends
 * on what was held back.
 */
class TcpRelay {
  private readonly sockets = new Set<net.Socket>();
  private held: Array<[net.Socket, Buffer]> = [];
  private mode: 'open' | 'cut' | 'stalled' = 'open';
  /** Bytes sent on towards the gateway after the last resume(). */
  bytesBackAfterResume = 0;
  private resumed = false;
  port = 0;

  private constructor(private readonly server: net.Server) {}

  static async start(targetPort: number): Promise<TcpRelay> {
    const server = net.createServer();
    const relay = new TcpRelay(server);
    server.on('connection', (client) => relay.accept(client, targetPort));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    relay.port = (server.address() as net.AddressInfo).port;
    return relay;
  }

  private accept(client: net.Socket, targetPort: number): void {
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const [from, to, back] of [[client, upstream, false], [upstream, client, true]] as const) {
      this.sockets.add(from);
      from.on('data', (d: Buffer) => {
        if (this.mode === 'stalled') this.held.push([to, d]);
        else {
          if (back && this.resumed) this.bytesBackAfterResume += d.length;
          to.write(d);
        }
      });
      from.on('error', () => to.destroy());
      from.on('close', () => { this.sockets.delete(from); to.destroy(); });
    }
  }

  cut(): void {
    this.mode = 'cut';
    for (const s of this.sockets) s.resetAndDestroy();
  }

  open(): void {
    this.mode = 'open';
  }

  stall(): void {
    this.mode = 'stalled';
  }

  resume(): void {
    this.mode = 'open';
    this.resumed = true;
    for (const [to, d] of this.held.splice(0)) {
      this.bytesBackAfterResume += d.length;
      to.write(d);
    }
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

let stack: TestStack;
let tenant: TestTenant;
const replicas: KeyLifecycle[] = [];

const startReplica = async (extra: Partial<KeyLifecycleOptions> = {}): Promise<KeyLifecycle> => {
  const lc = await startKeyLifecycle({
    address: '127.0.0.1:0', tls: stack.pki.lifecycle, redisUrl: stack.redis.url,
    wrappingAddress: `localhost:${stack.wrappingPort}`, wrappingTls: stack.pki.lifecycle, metricsPort: 0, metricsHost: '127.0.0.1', ...extra,
  });
  replicas.push(lc);
  return lc;
};

beforeAll(async () => {
  stack = await startStack();
  tenant = await stack.createTenant();
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.close();
  await stack?.close();
}, 30_000);

/** A replica's count of one operation (all results), from its /metrics. */
async function opCount(lc: KeyLifecycle, op: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${lc.metricsPort}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^keywarden_lifecycle_operations_total\{([^}]*)\} (\S+)$/gm)) {
    if (m[1].includes(`op="${op}"`)) n += Number(m[2]);
  }
  return n;
}

interface Front { gw: Gateway; backend: LifecycleBackend; entries: () => Array<Record<string, unknown>> }

async function front(address: string, extra: Partial<GrpcBackendOptions> = {}): Promise<Front> {
  const { log, entries } = capturingLogger();
  const backend = grpcLifecycleBackend({ address, tls: stack.pki.gateway, log, ...extra });
  const gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, logger: log });
  return { gw, backend, entries };
}

async function closeFront(f: Front): Promise<void> {
  await f.gw.close(500);
  f.backend.close();
}

const connect = (f: Front) => KmipClient.connect({ port: f.gw.port, ca: stack.pki.ca.cert, cert: tenant.client.cert, key: tenant.client.key });

async function create(c: KmipClient): Promise<string> {
  const item = (await c.send(vcenter.create(1))).batchItems[0];
  expect(item.resultStatus).toBe(ResultStatus.Success);
  return item.payload.uniqueIdentifier as string;
}

const ipv4 = (...relays: Array<{ port: number }>) => `ipv4:${relays.map((r) => `127.0.0.1:${r.port}`).join(',')}`;

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function allKeys(): Promise<string[]> {
  const out: string[] = [];
  let pageToken = '';
  do {
    const r = await stack.adminCall<unknown, adminV1.ListKeysResponse>('listKeys', { tenantId: tenant.id, limit: 1000, pageToken, attributes: {} });
    out.push(...r.keys.map((k) => k.uniqueIdentifier));
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

test('requests are spread over both replicas', async () => {
  const [a, b] = [await startReplica(), await startReplica()];
  const [ra, rb] = [await TcpRelay.start(a.port), await TcpRelay.start(b.port)];
  const t0 = Date.now();
  const f = await front(ipv4(ra, rb));
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(f)));
  try {
    const uids = await Promise.all(clients.map(create));
    // grpc-js gives the first streams to whichever replica was ready first; the pool spreads them within seconds.
    await until('both replicas to serve', () => spread(a, b, clients, uids));
    expect(Date.now() - t0).toBeLessThan(10_000);
    const gets = async (n: number, cs: KmipClient[]) => {
      const before = [await opCount(a, 'Get'), await opCount(b, 'Get')];
      await Promise.all(cs.map(async (c, i) => {
        for (let k = 0; k < n; k++) {
          const item = (await c.send(vcenter.get(1, uids[(i + k) % uids.length]))).batchItems[0];
          expect(item.resultStatus).toBe(ResultStatus.Success);
        }
      }));
      return [await opCount(a, 'Get') - before[0], await opCount(b, 'Get') - before[1]];
    };
    // Eight clients at once: each replica takes a fair share (a third at the very least).
    const many = await gets(40, clients);
    expect(many[0] + many[1]).toBe(320);
    expect(Math.min(...many)).toBeGreaterThan(320 / 3);
    // One request at a time: the replicas take turns.
    const one = await gets(40, clients.slice(0, 1));
    expect(one[0] + one[1]).toBe(40);
    expect(Math.min(...one)).toBeGreaterThanOrEqual(15);
  } finally {
    for (const c of clients) await c.close();
    await closeFront(f);
    ra.close();
    rb.close();
  }
});

test('a replica lost mid-load: Gets go on on the other; a Create in flight there is answered with an error and never run twice', async () => {
  // Strict mode: every Get asks the (slowed) provider, so Gets too are in flight on the replica when it is lost.
  const [a, b] = [await startReplica({ cacheTtlMs: 0 }), await startReplica({ cacheTtlMs: 0 })];
  const [ra, rb] = [await TcpRelay.start(a.port), await TcpRelay.start(b.port)];
  const f = await front(ipv4(ra, rb));
  const readers = await Promise.all(Array.from({ length: 3 }, () => connect(f)));
  const writers = await Promise.all(Array.from({ length: 8 }, () => connect(f)));
  const keysBefore = new Set(await allKeys());
  const uids = await Promise.all(readers.map(create));
  keysBefore.add(uids[0]).add(uids[1]).add(uids[2]);
  await until('streams on both replicas', () => spread(a, b, readers, uids));
  // Slow Creates and Gets (the provider takes 150 ms per call), so several are in flight on each replica at the cut.
  stack.emulator.faults.set({ latencyMs: 150 });
  const acked: string[] = [];
  const failedCreates: string[] = [];
  const gets: Array<{ ok: boolean; ms: number; after: boolean; message?: string }> = [];
  let cutAt = 0;
  let stop = false;
  try {
    const load = [
      ...writers.map(async (c) => {
        while (!stop) {
          const item = (await c.send(vcenter.create(1))).batchItems[0];
          if (item.resultStatus === ResultStatus.Success) acked.push(item.payload.uniqueIdentifier as string);
          else failedCreates.push(item.resultMessage as string);
        }
      }),
      ...readers.map(async (c, i) => {
        while (!stop) {
          const t0 = Date.now();
          const after = cutAt > 0;
          const item = (await c.send(vcenter.get(1, uids[i]))).batchItems[0];
          gets.push({ ok: item.resultStatus === ResultStatus.Success, ms: Date.now() - t0, after, message: item.resultMessage as string | undefined });
        }
      }),
    ];
    await new Promise((r) => setTimeout(r, 1500));
    cutAt = Date.now();
    ra.cut();
    await new Promise((r) => setTimeout(r, 2500));
    stop = true;
    await Promise.all(load);
  } finally {
    stack.emulator.faults.clear();
  }
  try {
    // Reads went on: every Get answered, none slower than the retry path allows.
    expect(gets.filter((g) => g.after).length).toBeGreaterThan(10);
    expect(gets.filter((g) => !g.ok)).toEqual([]);
    expect(Math.max(...gets.map((g) => g.ms))).toBeLessThan(3000);
    // Creates in flight on the lost replica: failed, with the transient text (the log says "outcome unknown").
    expect(failedCreates.length).toBeGreaterThan(0);
    for (const m of failedCreates) expect(m).toMatch(/^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/);
    const unknown = f.entries().filter((e) => e.msg === 'batch item failed' && /^outcome unknown/.test(String(e.details)));
    expect(unknown.length).toBe(failedCreates.length);
    // Creates went on too, on the other replica.
    expect(acked.length).toBeGreaterThan(failedCreates.length);
    // The lost replica still ran what it had read: let it finish, then count what exists.
    await new Promise((r) => setTimeout(r, 1500));
    const created = (await allKeys()).filter((k) => !keysBefore.has(k));
    const createdSet = new Set(created);
    for (const uid of acked) expect(createdSet.has(uid)).toBe(true);
    expect(new Set(acked).size).toBe(acked.length);
    // Nothing beyond the acknowledged Creates and the ones whose outcome was unknown: no Create ran twice.
    expect(created.length).toBeLessThanOrEqual(acked.length + failedCreates.length);
  } finally {
    for (const c of [...readers, ...writers]) await c.close();
    await closeFront(f);
    ra.close();
    rb.close();
  }
});

/** Sends a few Gets and tells whether both replicas served some (the pool has spread its streams). */
async function spread(a: KeyLifecycle, b: KeyLifecycle, clients: KmipClient[], uids: string[]): Promise<boolean> {
  const before = [await opCount(a, 'Get'), await opCount(b, 'Get')];
  await Promise.all(clients.map(async (c, i) => { for (let n = 0; n < 5; n++) await c.send(vcenter.get(1, uids[i])); }));
  return (await opCount(a, 'Get')) > before[0] && (await opCount(b, 'Get')) > before[1];
}

test('a replica that stops answering: the request fails at its deadline, the late answer is ignored', async () => {
  const a = await startReplica();
  const relay = await TcpRelay.start(a.port);
  const f = await front(ipv4(relay), { deadlineMs: 1000 });
  const c = await connect(f);
  try {
    const [uid1, uid2] = [await create(c), await create(c)];
    relay.stall();
    const t0 = Date.now();
    const item = (await c.send(vcenter.get(1, uid1))).batchItems[0];
    const ms = Date.now() - t0;
    expect(item.resultStatus).toBe(ResultStatus.OperationFailed);
    expect(item.resultMessage).toMatch(/^key service temporarily unavailable; retry \(ref [0-9a-f]{8}\)$/);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(2500);
    const ref = /ref ([0-9a-f]{8})/.exec(item.resultMessage as string)![1];
    expect(f.entries().find((e) => e.ref === ref)).toMatchObject({ grpcCode: 'DEADLINE_EXCEEDED' });
    // The replica answers once the relay lets the request through; that answer arrives late.
    relay.resume();
    await until('the late answer to reach the gateway', () => relay.bytesBackAfterResume > 0);
    await new Promise((r) => setTimeout(r, 200));
    // Ignored: the next request gets its own answer, not uid1's.
    const next = (await c.send(vcenter.get(1, uid2))).batchItems[0];
    expect(next.resultStatus).toBe(ResultStatus.Success);
    expect(next.payload.uniqueIdentifier).toBe(uid2);
  } finally {
    relay.resume();
    await c.close();
    await closeFront(f);
    relay.close();
  }
});

test('a replica that joins later gets its share once streams are recycled', async () => {
  const [a, b] = [await startReplica(), await startReplica()];
  const [ra, rb] = [await TcpRelay.start(a.port), await TcpRelay.start(b.port)];
  rb.cut(); // not there yet
  const f = await front(ipv4(ra, rb), { streamMaxAgeMs: 1500 });
  const c = await connect(f);
  try {
    const uid = await create(c);
    const b0 = await opCount(b, 'Get');
    for (let i = 0; i < 20; i++) expect((await c.send(vcenter.get(1, uid))).batchItems[0].resultStatus).toBe(ResultStatus.Success);
    expect(await opCount(b, 'Get')).toBe(b0);
    rb.open();
    await until('the new replica to serve Gets', async () => {
      expect((await c.send(vcenter.get(1, uid))).batchItems[0].resultStatus).toBe(ResultStatus.Success);
      return (await opCount(b, 'Get')) > b0;
    }, 20_000);
  } finally {
    await c.close();
    await closeFront(f);
    ra.close();
    rb.close();
  }
});

test('only a gateway certificate opens the stream: another gets PERMISSION_DENIED', async () => {
  const a = await startReplica();
  const backend = grpcLifecycleBackend({ address: `127.0.0.1:${a.port}`, tls: stack.pki.admin });
  try {
    const err = await backend.identify({ caller: { certFingerprint: 'ab'.repeat(32) } }).then(() => undefined, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toMatch(/Relay is for kmip-gateway identities only; the operator role may not use it/);
  } finally {
    backend.close();
  }
});

test('the unary transport (LIFECYCLE_TRANSPORT=unary) still serves', async () => {
  const a = await startReplica();
  const f = await front(`127.0.0.1:${a.port}`, { transport: 'unary' });
  const c = await connect(f);
  try {
    const before = await opCount(a, 'Get');
    const uid = await create(c);
    const got = (await c.send(vcenter.get(1, uid))).batchItems[0];
    expect(got.payload.object.keyBlock.keyMaterial).toHaveLength(32);
    expect(await opCount(a, 'Get')).toBe(before + 1);
  } finally {
    await c.close();
    await closeFront(f);
  }
});

test('a key-lifecycle without Relay (an older version) is served by unary calls', async () => {
  // An older key-lifecycle: the KeyLifecycle service without the Relay method.
  const { relay: _relay, ...older } = lifecycleV1.KeyLifecycleService;
  const server = new grpc.Server();
  server.addService(older, {
    identify: (_call: unknown, cb: (e: null, r: lifecycleV1.IdentifyResponse) => void) => cb(null, { tenantId: 'older' }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', serverCredentials(stack.pki.lifecycle), (e, p) => (e ? reject(e) : resolve(p))));
  const { log, entries } = capturingLogger();
  const backend = grpcLifecycleBackend({ address: `127.0.0.1:${port}`, tls: stack.pki.gateway, log });
  try {
    expect(await backend.identify({ caller: { certFingerprint: 'ab'.repeat(32) } })).toEqual({ tenantId: 'older' });
    expect(await backend.identify({ caller: { certFingerprint: 'cd'.repeat(32) } })).toEqual({ tenantId: 'older' });
    expect(entries().filter((e) => /does not serve Relay/.test(String(e.msg)))).toHaveLength(1);
  } finally {
    backend.close();
    server.forceShutdown();
  }
});
