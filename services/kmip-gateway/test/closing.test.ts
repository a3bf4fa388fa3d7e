// How the gateway closes connections, seen from its own process: a server-side
// close after an error answer still delivers the answer, then discards input
// and destroys the socket after the linger bound; sockets that never finish
// their TLS handshake are released; back-pressure does not keep a socket.
import net from 'net';
import tls from 'tls';
import { Operation, ResultReason, decodeResponse, encodeRequest, vcenter } from '@keywarden/kmip';
import { gatewayProcessSuite } from './gateway-process';
import { DV, HalfOpenTls, WireConn, cleanRequest, firstReason, isSuccess, oddFrame, sleep, until } from './wire';

const HANDSHAKE_MS = 3000;
/** The gateway's default linger bound. */
const LINGER_MS = 2000;

const suite = gatewayProcessSuite({ KMIP_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS) });

const registered = () => WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert, cert: suite.tenant.client.cert, key: suite.tenant.client.key });
const openConnections = () => suite.gw.metric('kmip_gateway_connections');

/** The gateway's descriptors once it holds no client connection. */
async function baseline(): Promise<number> {
  expect(await until(async () => (await openConnections()) === 0 && (await suite.gw.metric('kmip_gateway_sockets')) === 0, 10_000)).toBe(true);
  return suite.gw.fds();
}

test('after framing is lost: the answer arrives, later input is discarded, and a client that never closes is cut after the linger bound', async () => {
  const fds = await baseline();
  const closedBefore = await suite.gw.metric('kmip_gateway_connections_closed_total', { cause: 'bad-frame' });
  const c = await registered();
  const answer = await c.ask(oddFrame());
  expect(firstReason(answer)).toBe(ResultReason.InvalidMessage);
  expect(decodeResponse(answer!).batchItems[0].resultMessage).toMatch(/multiple of 8/);
  expect(await c.serverCloses(1000)).toBe(true); // the gateway ended its side
  const ended = Date.now();
  // The client keeps its side open and keeps sending.
  const spam = setInterval(() => c.write(DV), 50);
  try {
    expect(await until(async () => (await openConnections()) === 0, LINGER_MS + 3000, 50)).toBe(true);
    const took = Date.now() - ended;
    expect(took).toBeGreaterThanOrEqual(LINGER_MS - 300);
    expect(await suite.gw.metric('kmip_gateway_connections_closed_total', { cause: 'bad-frame' })).toBe(closedBefore + 1);
    expect(await until(() => suite.gw.fds() <= fds, 2000)).toBe(true);
    // Nothing that followed the bad frame was answered.
    expect(await c.frame(100)).toBeUndefined();
  } finally {
    clearInterval(spam);
    c.destroy();
  }
}, 20_000);

test('a request in flight when framing is lost is answered first, then Invalid Message, then the close', async () => {
  const c = await registered();
  expect(isSuccess(await c.ask(cleanRequest(1)))).toBe(true); // identified
  suite.stack.emulator.faults.set({ latencyMs: 400 }); // a slow root-key provider keeps the Create in flight
  try {
    c.write(encodeRequest(vcenter.create(2)));
    await sleep(100);
    c.write(oddFrame());
    const first = await c.frame();
    const second = await c.frame();
    expect(first && decodeResponse(first).batchItems[0].operation).toBe(Operation.Create);
    expect(isSuccess(first)).toBe(true);
    expect(firstReason(second)).toBe(ResultReason.InvalidMessage);
    expect(await c.serverCloses(1000)).toBe(true);
  } finally {
    suite.stack.emulator.faults.clear();
    c.destroy();
  }
}, 20_000);

test('a TCP connection closed before its TLS handshake is released at once, not at the handshake timeout', async () => {
  const fds = await baseline();
  await Promise.all(Array.from({ length: 20 }, () => new Promise<void>((resolve) => {
    const s = net.connect(suite.gw.port, '127.0.0.1', () => s.end());
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.resume();
  })));
  const t0 = Date.now();
  expect(await until(() => suite.gw.fds() <= fds, HANDSHAKE_MS + 5000, 50)).toBe(true);
  expect(Date.now() - t0).toBeLessThan(HANDSHAKE_MS / 2);
}, 20_000);

test('a TCP connection that never starts its handshake is released at the handshake timeout', async () => {
  const fds = await baseline();
  const held = await Promise.all(Array.from({ length: 10 }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect({ port: suite.gw.port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.on('error', () => undefined);
    s.resume();
  })));
  try {
    expect(await until(() => suite.gw.fds() >= fds + 10, 2000, 20)).toBe(true);
    // Held by the gateway until the handshake timeout, then closed by it although the client stays.
    expect(await until(() => suite.gw.fds() <= fds, HANDSHAKE_MS + 3000, 100)).toBe(true);
  } finally {
    for (const s of held) s.destroy();
  }
}, 20_000);

test('a client that pipelines without reading, then resets, is released (back-pressure, reading paused)', async () => {
  const fds = await baseline();
  const c = await registered();
  c.socket.pause();
  // ~1 MB of requests: the answers fill the socket buffers, the gateway stops reading.
  const many = Buffer.concat(Array.from({ length: 10_000 }, () => DV));
  c.write(many);
  await sleep(500);
  expect(await openConnections()).toBe(1);
  c.reset();
  expect(await until(async () => (await openConnections()) === 0 && suite.gw.fds() <= fds, 3000, 50)).toBe(true);
}, 20_000);

test('a client that pipelines without reading, half-closes, then reads gets every answer and the close', async () => {
  const c = await registered();
  c.socket.pause();
  const n = 5000;
  c.write(Buffer.concat(Array.from({ length: n }, () => DV)));
  c.end();
  await sleep(500);
  c.socket.resume();
  let answers = 0;
  while (await c.frame(3000)) answers++;
  expect(answers).toBe(n);
  expect(await c.serverCloses(3000)).toBe(true);
  await until(() => c.isClosed, 3000);
  expect(c.isClosed).toBe(true);
}, 20_000);

test('a client that half-closes the moment its handshake completes still gets its answer (50 times)', async () => {
  for (let i = 0; i < 50; i++) {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const opts: HalfOpenTls = { port: suite.gw.port, host: '127.0.0.1', ca: suite.stack.pki.ca.cert, cert: suite.tenant.client.cert, key: suite.tenant.client.key, servername: 'localhost', allowHalfOpen: true };
      const s = tls.connect(opts, () => {
        s.end(cleanRequest(i));
      });
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => { resolve(Buffer.concat(chunks)); s.destroy(); });
      s.on('error', reject);
    });
    expect(isSuccess(reply)).toBe(true);
  }
}, 20_000);
