// Smoke test of the load generator against the real gateway (stub backend)
// over real TLS, in this process: persistent and fresh modes, Get and Create,
// and the echo check against a bare TLS echo server. No timing assertions.
import tls from 'tls';
import { createCa, createLogger, issueCertificate } from '@keywarden/common';
import { FrameReader } from '@keywarden/kmip';
import { Gateway, startGateway } from '@keywarden/kmip-gateway';
import { LoadOptions, holdConnections, runLoad } from './loadgen';
import { checkResponse, requestTemplate } from './messages';
import { bareTlsOptions } from './server';
import { stubBackend } from './stub-backend';
import { summarize } from './stats';

const ca = createCa('loadgen test CA');
const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const client = issueCertificate(ca, { commonName: 'vcenter-loadgen', usage: 'client' });
let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ port: 0, host: '127.0.0.1', cert: server.cert, key: server.key, backend: stubBackend(), logger: createLogger('gw', 'silent') });
});
afterAll(async () => { await gw?.close(1000); });

const base = (port: number): Omit<LoadOptions, 'mode' | 'op'> => ({
  host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert, cert: client.cert, key: client.key,
  uids: ['11111111-2222-3333-4444-555555555555'], connections: 4, workers: 0, depth: 1,
  warmupMs: 100, durationMs: 700, expect: 'kmip', connectConcurrency: 0, timeoutMs: 5000,
});

test('persistent Get and Create against the gateway: answers are successful and counted', async () => {
  for (const op of ['get', 'create'] as const) {
    const r = await runLoad({ ...base(gw.port), mode: 'persistent', op });
    expect(r.errors).toBe(0);
    expect(r.ok).toBeGreaterThan(10);
    expect(r.latency.count).toBe(r.ok);
    expect(r.latency.p50).toBeLessThanOrEqual(r.latency.p99);
    expect(r.rate).toBeGreaterThan(0);
  }
}, 20_000);

test('fresh-connection mode with a count: one handshake, Discover Versions and Get per transaction', async () => {
  const r = await runLoad({ ...base(gw.port), mode: 'fresh', op: 'get', count: 12, durationMs: undefined, warmupMs: 0, connections: 6 });
  expect(r.errors).toBe(0);
  expect(r.ok).toBe(12);
  expect(r.handshake.count).toBe(12);
});

test('hold mode keeps connections open until released', async () => {
  const h = await holdConnections({ ...base(gw.port), mode: 'hold', op: 'discover', connections: 5, connectConcurrency: 2 });
  try {
    expect(h.opened).toBe(5);
    expect(await h.stillOpen()).toBe(5);
    expect(gw.connectionCount()).toBe(5);
  } finally {
    await h.release();
  }
});

test('errors are counted: a server that answers garbage fails the KMIP check, an echo server passes the echo check', async () => {
  const srv = tls.createServer(bareTlsOptions(Buffer.from(server.cert), Buffer.from(server.key)), (s) => {
    const reader = new FrameReader();
    s.on('data', (c: Buffer) => { for (const m of reader.push(c)) s.write(m); });
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    const echo = await runLoad({ ...base(port), mode: 'persistent', op: 'get', expect: 'echo', durationMs: 300 });
    expect(echo.errors).toBe(0);
    expect(echo.ok).toBeGreaterThan(0);
    const wrong = await runLoad({ ...base(port), mode: 'persistent', op: 'get', expect: 'kmip', durationMs: 300, connections: 1 });
    expect(wrong.errors).toBeGreaterThan(0);
    expect(Object.keys(wrong.errorKinds)[0]).toMatch(/Result Status/);
  } finally {
    srv.close();
  }
});

test('checkResponse spots a failed Result Status and a missing batch item id; summarize gives nearest-rank percentiles', () => {
  const req = requestTemplate('get', 'x').make(7);
  expect(checkResponse(req, req)).toBe('no Result Status in the response');
  expect(summarize([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p90: 5, p99: 5, max: 5 });
});
