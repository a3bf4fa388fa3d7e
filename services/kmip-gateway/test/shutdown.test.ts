// Graceful shutdown is bounded by its drain timeout even when clients never
// read and never close: SIGTERM to the gateway process, and close() in-process.
import net from 'net';
import { ResultStatus, decodeResponse, encodeRequest, vcenter } from '@keywarden/kmip';
import { LifecycleBackend, grpcLifecycleBackend, startGateway } from '@keywarden/kmip-gateway';
import { TestStack, TestTenant, startStack } from '../../../test/lib';
import { startGatewayProcess } from './gateway-process';
import { DV, WireConn, after, cleanRequest, isSuccess, oddFrame, sleep } from './wire';

let stack: TestStack;
let tenant: TestTenant;

beforeAll(async () => {
  stack = await startStack();
  tenant = await stack.createTenant();
}, 60_000);

afterAll(async () => {
  await stack?.close();
}, 30_000);

/** Connections that will not go away by themselves: each kind a client that never closes its side. */
async function stubbornClients(port: number): Promise<{ conns: WireConn[]; raw: net.Socket[] }> {
  const open = () => WireConn.open({ port, ca: stack.pki.ca.cert, cert: tenant.client.cert, key: tenant.client.key });
  const conns: WireConn[] = [];
  // Pipelining ~1 MB and never reading: the gateway's writes block, its reading is paused.
  for (let i = 0; i < 5; i++) {
    const c = await open();
    c.socket.pause();
    c.write(Buffer.concat(Array.from({ length: 10_000 }, () => DV)));
    conns.push(c);
  }
  // Idle, registered, never reading.
  for (let i = 0; i < 5; i++) {
    const c = await open();
    expect(isSuccess(await c.ask(cleanRequest(1)))).toBe(true);
    c.socket.pause();
    conns.push(c);
  }
  // After a bad frame, half-open and still sending.
  for (let i = 0; i < 20; i++) {
    const c = await open();
    await c.ask(oddFrame());
    c.write(DV);
    conns.push(c);
  }
  // TCP connected, no TLS handshake.
  const raw = await Promise.all(Array.from({ length: 5 }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.on('error', () => undefined);
  })));
  await sleep(300);
  return { conns, raw };
}

test('SIGTERM: the process exits within its drain timeout although no client closes; the request in flight is answered', async () => {
  const DRAIN_MS = 2000;
  const gw = await startGatewayProcess(stack, { KMIP_DRAIN_TIMEOUT_MS: String(DRAIN_MS) });
  const { conns, raw } = await stubbornClients(gw.port);
  const inFlight = await WireConn.open({ port: gw.port, ca: stack.pki.ca.cert, cert: tenant.client.cert, key: tenant.client.key });
  try {
    expect(isSuccess(await inFlight.ask(cleanRequest(1)))).toBe(true);
    stack.emulator.faults.set({ latencyMs: 500 }); // a slow root-key provider keeps a Create in flight
    inFlight.write(encodeRequest(vcenter.create(2)));
    await sleep(100);
    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    const code = await Promise.race([gw.exited, after(DRAIN_MS + 8000, 'still running')]);
    const took = Date.now() - t0;
    console.log(`SIGTERM with ${conns.length + raw.length} stubborn connections: exited (${code}) after ${took} ms`);
    expect(code).toBe(0);
    expect(took).toBeLessThan(DRAIN_MS + 3000);
    const answer = await inFlight.frame(1000);
    expect(answer && decodeResponse(answer).batchItems[0].resultStatus).toBe(ResultStatus.Success);
  } finally {
    stack.emulator.faults.clear();
    for (const c of [...conns, inFlight]) c.destroy();
    for (const s of raw) s.destroy();
    await gw.stop(1000);
  }
}, 60_000);

describe('close() in process', () => {
  let backend: LifecycleBackend;
  beforeAll(() => { backend = grpcLifecycleBackend({ address: `localhost:${stack.lifecyclePort}`, tls: stack.pki.gateway }); });
  afterAll(() => backend?.close());

  test('resolves within its grace period plus a second, and every client connection is closed', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, handshakeTimeoutMs: 30_000 });
    const { conns, raw } = await stubbornClients(g.port);
    const rawClosed = raw.map((s) => new Promise<void>((r) => { s.on('end', () => r()); s.on('close', () => r()); s.resume(); }));
    try {
      const t0 = Date.now();
      await g.close(500);
      expect(Date.now() - t0).toBeLessThan(500 + 1500);
      expect(g.connectionCount()).toBe(0);
      // Every client sees its connection end (FIN or reset) once it reads again.
      const seen = await Promise.all(conns.map((c) => { c.socket.resume(); return c.serverCloses(2000); }));
      expect(seen.every(Boolean)).toBe(true);
      expect(await Promise.race([Promise.all(rawClosed).then(() => true), after(2000, false)])).toBe(true);
    } finally {
      for (const c of conns) c.destroy();
      for (const s of raw) s.destroy();
    }
  }, 60_000);
});
