// A certificate removed while the gateway's revocation stream is down (its
// key-lifecycle replica restarting) still loses its open connections once the
// stream is back: the gateway identifies every open connection again.
import net from 'net';
import { certFingerprint } from '@keywarden/common';
import { ResultStatus, vcenter } from '@keywarden/kmip';
import { startKeyLifecycle, KeyLifecycle } from '@keywarden/key-lifecycle';
import { Gateway, LifecycleBackend, grpcLifecycleBackend, startGateway } from '@keywarden/kmip-gateway';
import { KmipClient, TestStack, freePort, startStack } from '../../../test/lib';

let stack: TestStack;

beforeAll(async () => { stack = await startStack(); }, 60_000);
afterAll(async () => { await stack?.close(); }, 30_000);

test('revocations missed during a stream outage close connections after it resumes', async () => {
  const replica = () => startKeyLifecycle({
    address: `127.0.0.1:${port}`, tls: stack.pki.lifecycle, redisUrl: stack.redis.url,
    wrappingAddress: `localhost:${stack.wrappingPort}`, wrappingTls: stack.pki.lifecycle,
  });
  let port = 0;
  let a: KeyLifecycle = await replica();
  port = a.port;
  const backend: LifecycleBackend = grpcLifecycleBackend({ address: `localhost:${port}`, tls: stack.pki.gateway });
  const gw: Gateway = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend });
  const t = await stack.createTenant();
  const c = await KmipClient.connect({ port: gw.port, ca: stack.pki.ca.cert, cert: t.client.cert, key: t.client.key });
  try {
    expect((await c.send(vcenter.discoverVersions())).batchItems[0].resultStatus).toBe(ResultStatus.Success);
    const closed = new Promise<void>((r) => c.socket.once('close', () => r()));

    await a.close(); // the gateway's stream breaks
    // Removed through the other replica (the stack's own) while the stream is down.
    await stack.adminCall('removeCertificate', { fingerprint: certFingerprint(t.client.cert) });
    expect(c.socket.destroyed).toBe(false);

    a = await replica(); // same address: the gateway's stream comes back
    await closed;
  } finally {
    await c.close();
    await gw.close(500);
    backend.close();
    await a.close();
  }
}, 60_000);

test('while key-lifecycle is unreachable the revocation stream is retried once a second, not doubled by each failure', async () => {
  const port = await freePort(); // nothing listens there
  const failures: number[] = [];
  const backend = grpcLifecycleBackend({ address: `127.0.0.1:${port}`, tls: stack.pki.gateway, onWatchError: () => failures.push(Date.now()) });
  const stop = backend.watchAccessRevocations(() => undefined);
  try {
    await new Promise((r) => setTimeout(r, 5_500));
    // One stream per second: about 5 failures. A failed stream emits both 'error' and 'end';
    // replacing it on each would double the streams every second (2^5 = 32 here, 2^25 after 25 s).
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.length).toBeLessThanOrEqual(7);
  } finally {
    stop();
    backend.close();
  }
}, 30_000);

/** A TCP relay that can stop relaying without closing anything: a peer that vanished (node lost, no FIN, no RST). */
async function blackHoleRelay(targetPort: number): Promise<{ port: number; blackHole(): void; close(): void }> {
  let dark = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (d) => { if (!dark) to.write(d); });
      from.on('error', () => to.destroy());
      from.on('close', () => { sockets.delete(from); if (!dark) to.destroy(); });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackHole: () => { dark = true; },
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

test('a key-lifecycle replica that vanishes without closing is given up by keepalive within 20 s (the stream is then replaced)', async () => {
  const relay = await blackHoleRelay(stack.lifecyclePort);
  const errors: number[] = [];
  const backend = grpcLifecycleBackend({ address: `localhost:${relay.port}`, tls: stack.pki.gateway, onWatchError: () => errors.push(Date.now()) });
  const stop = backend.watchAccessRevocations(() => undefined);
  try {
    await backend.identify({ caller: { certFingerprint: 'a'.repeat(64) } }).catch(() => undefined); // the connection is up
    await new Promise((r) => setTimeout(r, 500));
    const dark = Date.now();
    relay.blackHole();
    while (errors.length === 0 && Date.now() - dark < 25_000) await new Promise((r) => setTimeout(r, 100));
    expect(errors.length).toBeGreaterThan(0);
    // grpc.keepalive_time_ms 10 s + keepalive_timeout_ms 5 s (channelOptions).
    expect(errors[0] - dark).toBeLessThan(20_000);
  } finally {
    stop();
    backend.close();
    relay.close();
  }
}, 40_000);
