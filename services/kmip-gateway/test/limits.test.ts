// One client must not take the pool: the per-source connection limit, and
// unregistered certificates closed after their Permission Denied answer or,
// if they send nothing, after KMIP_UNREGISTERED_TIMEOUT_MS. The gateway runs
// as its own process in front of the real key-lifecycle.
import net from 'net';
import { issueCertificate } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import { LifecycleBackend, grpcLifecycleBackend, sourceKey, startGateway } from '@keywarden/kmip-gateway';
import { gatewayProcessSuite } from './gateway-process';
import { DV, WireConn, cleanRequest, firstReason, isSuccess, sleep, until } from './wire';

const PER_SOURCE = 4;
const UNREGISTERED_MS = 1000;

const suite = gatewayProcessSuite({
    KMIP_MAX_CONNECTIONS_PER_SOURCE: String(PER_SOURCE), KMIP_UNREGISTERED_TIMEOUT_MS: String(UNREGISTERED_MS),
  });

const stranger = issueCertificate(null, { commonName: 'limits-stranger', usage: 'client' });
const registered = (localAddress?: string) =>
  WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert, cert: suite.tenant.client.cert, key: suite.tenant.client.key, localAddress });
const unregistered = () => WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert, cert: stranger.cert, key: stranger.key });
/** Nothing of an earlier test still counts against a source. */
const settled = () => until(async () => (await suite.gw.metric('kmip_gateway_sockets')) === 0, 10_000);

describe('per-source connection limit', () => {
  test('a source at its limit is refused at accept; other sources, and the same source once a slot frees, are served', async () => {
    expect(await settled()).toBe(true);
    const failedBefore = await suite.gw.metric('kmip_gateway_tls_handshakes_total', { result: 'failed' });
    const held = await Promise.all(Array.from({ length: PER_SOURCE }, () => registered('127.0.0.1')));
    try {
      const t0 = Date.now();
      await expect(registered('127.0.0.1')).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await suite.gw.metric('kmip_gateway_connections_refused_total', { reason: 'per-source' })).toBe(1);
      // Refused before the handshake: not counted as a failed handshake.
      expect(await suite.gw.metric('kmip_gateway_tls_handshakes_total', { result: 'failed' })).toBe(failedBefore);

      // Another source is not affected; the held connections keep being served.
      const other = await registered('127.0.0.2');
      expect(isSuccess(await other.ask(cleanRequest(1)))).toBe(true);
      other.destroy();
      for (const c of held) expect(isSuccess(await c.ask(cleanRequest(2)))).toBe(true);

      // A freed slot is usable again.
      held[0].destroy();
      await held[0].closed;
      let again: WireConn | undefined;
      expect(await until(async () => {
        again = await registered('127.0.0.1').catch(() => undefined);
        return again !== undefined;
      }, 3000)).toBe(true);
      expect(isSuccess(await again!.ask(cleanRequest(3)))).toBe(true);
      again!.destroy();
    } finally {
      for (const c of held) c.destroy();
    }
  });

  test('connections still in their TLS handshake count against the source', async () => {
    expect(await settled()).toBe(true);
    const raw = await Promise.all(Array.from({ length: PER_SOURCE }, () => new Promise<net.Socket>((resolve) => {
      const s = net.connect({ port: suite.gw.port, host: '127.0.0.1', localAddress: '127.0.0.3' }, () => resolve(s));
      s.on('error', () => undefined);
    })));
    try {
      await expect(registered('127.0.0.3')).rejects.toThrow();
      const elsewhere = await registered('127.0.0.4');
      expect(isSuccess(await elsewhere.ask(cleanRequest(1)))).toBe(true);
      elsewhere.destroy();
    } finally {
      for (const s of raw) s.destroy();
    }
  });
});

describe('unregistered certificates', () => {
  test('are closed right after their Permission Denied answer; what they pipelined is not served', async () => {
    const closedBefore = await suite.gw.metric('kmip_gateway_connections_closed_total', { cause: 'unregistered' });
    const c = await unregistered();
    c.write(Buffer.concat([DV, DV, DV]));
    const first = await c.frame();
    expect(firstReason(first)).toBe(ResultReason.PermissionDenied);
    expect(await c.serverCloses(1000)).toBe(true);
    expect(await c.frame(200)).toBeUndefined();
    c.destroy();
    expect(await until(async () => (await suite.gw.metric('kmip_gateway_connections_closed_total', { cause: 'unregistered' })) === closedBefore + 1, 3000)).toBe(true);
  });

  test('a client without a certificate is closed after its Permission Denied answer', async () => {
    const c = await WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert });
    expect(firstReason(await c.ask(DV))).toBe(ResultReason.PermissionDenied);
    expect(await c.serverCloses(1000)).toBe(true);
    c.destroy();
  });

  test('one that sends nothing is closed after the unregistered timeout; a registered one keeps its connection', async () => {
    const silent = await unregistered();
    const mine = await registered();
    const t0 = Date.now();
    expect(await silent.serverCloses(UNREGISTERED_MS + 3000)).toBe(true);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(UNREGISTERED_MS - 100);
    await sleep(UNREGISTERED_MS);
    expect(mine.serverEnded || mine.isClosed).toBe(false);
    expect(isSuccess(await mine.ask(cleanRequest(1)))).toBe(true);
    silent.destroy();
    mine.destroy();
  });

  test('one that starts a message and stalls is closed after the unregistered timeout, before the read timeout', async () => {
    const c = await unregistered();
    c.write(DV.subarray(0, 20));
    const t0 = Date.now();
    expect(await c.serverCloses(UNREGISTERED_MS + 3000)).toBe(true);
    // The read timeout is 10 s here.
    expect(Date.now() - t0).toBeLessThan(UNREGISTERED_MS + 3000);
    c.destroy();
  });
});

describe('the cost of knowing who is silent', () => {
  let backend: LifecycleBackend;
  beforeAll(() => { backend = grpcLifecycleBackend({ address: `localhost:${suite.stack.lifecyclePort}`, tls: suite.stack.pki.gateway }); });
  afterAll(() => backend?.close());

  test('identify is called once for a connection that sends a request, once for a silent one, never for one that closes at once', async () => {
    let calls = 0;
    const counting: LifecycleBackend = { ...backend, identify: (r) => { calls++; return backend.identify(r); } };
    const g = await startGateway({ port: 0, host: '127.0.0.1', cert: suite.stack.pki.server.cert, key: suite.stack.pki.server.key, backend: counting, unregisteredTimeoutMs: 300 });
    const open = () => WireConn.open({ port: g.port, ca: suite.stack.pki.ca.cert, cert: suite.tenant.client.cert, key: suite.tenant.client.key });
    try {
      const busy = await open();
      expect(isSuccess(await busy.ask(cleanRequest(1)))).toBe(true);
      await sleep(600);
      expect(isSuccess(await busy.ask(cleanRequest(2)))).toBe(true);
      expect(calls).toBe(1);
      busy.destroy();

      const quick = await open();
      quick.destroy();
      await quick.closed;
      await sleep(600);
      expect(calls).toBe(1);

      const silent = await open();
      await sleep(600);
      expect(calls).toBe(2);
      expect(isSuccess(await silent.ask(cleanRequest(3)))).toBe(true);
      expect(calls).toBe(2);
      silent.destroy();
    } finally {
      await g.close(500);
    }
  });
});

describe('sourceKey', () => {
  test('IPv4 addresses count alone, also IPv4-mapped; IPv6 addresses by their /64', () => {
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::FFFF:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
    expect(sourceKey(undefined)).toBe('unknown');
  });
});
