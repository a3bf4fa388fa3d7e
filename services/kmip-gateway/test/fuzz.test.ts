// Wire-level fuzzing of the gateway as its own process, in front of the real
// key-lifecycle: mutated vCenter frames (flipped bytes, wrong inner lengths,
// types and tags, truncations, splices, duplicated and dropped items, bad
// outer headers, garbage), several per connection. Throughout, a clean client
// is served on a connection it holds and on fresh ones; the gateway's
// descriptors and memory stay bounded, and come back to where they started.
//   CI: 20,000 frames.  Longer run (documented in docs/kmip-gateway.md):
//   npm run build && KMIP_FUZZ_FRAMES=200000 npx jest services/kmip-gateway/test/fuzz.test.ts
//   KMIP_FUZZ_SEED=<n> replays a run (the seed is printed).
import { Operation, decodeTtlv, decodeResponse, encodeRequest, vcenter } from '@keywarden/kmip';
import { issueCertificate } from '@keywarden/common';
import { gatewayProcessSuite } from './gateway-process';
import { MUTATIONS, Rand, items, mutant, prng, vcenterFrames } from './mutate';
import { DV, WireConn, cleanRequest, isSuccess, until } from './wire';

const FRAMES = Number(process.env.KMIP_FUZZ_FRAMES ?? 20_000);
const SEED = Number(process.env.KMIP_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 16;
/** Frames per connection: 1 to this many. */
const PER_CONNECTION = 24;
const MiB = 1024 * 1024;
const KNOWN_OPERATIONS = new Set<number>(Object.values(Operation));

const suite = gatewayProcessSuite({ LOG_LEVEL: 'warn' });

const stranger = issueCertificate(null, { commonName: 'fuzz-stranger', usage: 'client' });

describe('the mutators', () => {
  const base = vcenterFrames();
  test('start from frames that decode, and keep TTLV well-formed where they say so', () => {
    for (const f of base) expect(() => decodeTtlv(f)).not.toThrow();
    const r = prng(1);
    for (let i = 0; i < 200; i++) {
      for (const name of ['duplicated item', 'dropped item', 'truncated, length fixed', 'spliced with another frame']) {
        const m = MUTATIONS[name](r, base[i % base.length], base[(i + 3) % base.length]);
        // The outer header always matches the frame's size: framing is kept.
        expect(m.readUInt32BE(4)).toBe(m.length - 8);
        if (name === 'duplicated item' || name === 'dropped item') expect(() => decodeTtlv(m)).not.toThrow();
      }
    }
  });

  test('items() walks every item of a frame', () => {
    // Discover Versions: message, header, version, major, minor, batch count, batch item, operation, payload.
    expect(items(DV).map((i) => i.at)).toEqual([0, 8, 16, 24, 40, 56, 72, 80, 96]);
    expect(items(DV)[4].ancestors).toEqual([0, 8, 16]);
    expect(DV.equals(encodeRequest(vcenter.discoverVersions()))).toBe(true);
  });
});

interface Tally {
  frames: number;
  connections: number;
  answers: number;
  undecodable: number;
  hung: number;
  refusedRegistered: number;
  byMutation: Record<string, number>;
}

/** One connection: a few mutated frames, in a few writes, half-close, read every answer until the gateway closes. */
async function fuzzConnection(r: Rand, base: Buffer[], t: Tally): Promise<void> {
  const registered = r() < 0.9;
  let c: WireConn;
  try {
    c = await WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert, cert: registered ? suite.tenant.client.cert : stranger.cert, key: registered ? suite.tenant.client.key : stranger.key });
  } catch {
    if (registered) t.refusedRegistered++;
    return;
  }
  t.connections++;
  const frames = Array.from({ length: 1 + Math.floor(r() * PER_CONNECTION) }, () => mutant(r, base));
  for (const f of frames) t.byMutation[f.name] = (t.byMutation[f.name] ?? 0) + 1;
  t.frames += frames.length;
  const bytes = Buffer.concat(frames.map((f) => f.bytes));
  // Split anywhere: frame boundaries and TLS records need not line up.
  const cut = Math.floor(r() * bytes.length);
  c.write(bytes.subarray(0, cut));
  c.write(bytes.subarray(cut));
  c.end();
  for (;;) {
    const f = await c.frame(15_000);
    if (!f) break;
    t.answers++;
    try {
      decodeResponse(f);
    } catch {
      t.undecodable++;
    }
  }
  if (!c.serverEnded && !c.isClosed) t.hung++;
  c.destroy();
  await c.closed;
}

test(`${FRAMES.toLocaleString('en')} mutated vCenter frames: a clean client is served throughout, descriptors and memory stay bounded`, async () => {
  console.log(`fuzz seed ${SEED} (KMIP_FUZZ_SEED=${SEED} replays it), ${FRAMES} frames`);
  const base = vcenterFrames();
  const r = prng(SEED);
  // Warm-up, so lazily created state is in the baseline.
  const warm: Tally = { frames: 0, connections: 0, answers: 0, undecodable: 0, hung: 0, refusedRegistered: 0, byMutation: {} };
  for (let i = 0; i < 20; i++) await fuzzConnection(r, base, warm);
  await until(async () => (await suite.gw.metric('kmip_gateway_connections')) === 0, 10_000);
  const mem0 = await suite.gw.memory();
  const fds0 = suite.gw.fds();
  const rss0 = suite.gw.rss();

  const t: Tally = { frames: 0, connections: 0, answers: 0, undecodable: 0, hung: 0, refusedRegistered: 0, byMutation: {} };
  // A registered client holding one connection, asking a clean question all along.
  const steady = await WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert, cert: suite.tenant.client.cert, key: suite.tenant.client.key });
  let steadyOk = 0;
  let steadyFailed = 0;
  let freshOk = 0;
  let freshFailed = 0;
  let maxFds = 0;
  let maxRss = 0;
  let stop = false;
  const watcher = (async () => {
    for (let n = 0; !stop; n++) {
      if (isSuccess(await steady.ask(cleanRequest(n), 15_000))) steadyOk++;
      else steadyFailed++;
      if (n % 5 === 0) {
        // And a fresh connection: a registered client is never refused.
        try {
          const fresh = await WireConn.open({ port: suite.gw.port, ca: suite.stack.pki.ca.cert, cert: suite.tenant.client.cert, key: suite.tenant.client.key });
          if (isSuccess(await fresh.ask(cleanRequest(n), 15_000))) freshOk++;
          else freshFailed++;
          fresh.destroy();
        } catch {
          freshFailed++;
        }
      }
      maxFds = Math.max(maxFds, suite.gw.fds());
      maxRss = Math.max(maxRss, suite.gw.rss());
      await new Promise((res) => setTimeout(res, 100));
    }
  })();

  const t0 = Date.now();
  const cpu0 = suite.gw.cpuSeconds();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    const wr = prng(SEED + 1 + w);
    while (t.frames < FRAMES) await fuzzConnection(wr, base, t);
  }));
  const ms = Date.now() - t0;
  const cpu = suite.gw.cpuSeconds() - cpu0;
  stop = true;
  await watcher;
  steady.destroy();

  await until(async () => (await suite.gw.metric('kmip_gateway_connections')) === 0 && suite.gw.fds() <= fds0 + 4, 10_000, 200);
  const mem1 = await suite.gw.memory();
  const fds1 = suite.gw.fds();
  const rss1 = suite.gw.rss();
  // Metric labels come from a fixed set: a mutated operation number must not make a series of its own.
  const operationLabels = new Set([...(await suite.gw.metrics()).matchAll(/^kmip_gateway_operations_total\{[^}]*operation="([^"]*)"/gm)].map((m) => m[1]));
  console.log([
    `fuzz: ${t.frames} frames over ${t.connections} connections in ${(ms / 1000).toFixed(1)} s (${Math.round(t.frames / (ms / 1000))} frames/s, gateway CPU ${cpu.toFixed(1)} s), ${t.answers} answers`,
    `clean client: ${steadyOk} answered on its connection (${steadyFailed} not), ${freshOk} on fresh connections (${freshFailed} not); registered clients refused ${t.refusedRegistered}`,
    `descriptors ${fds0} before, at most ${maxFds} during, ${fds1} after; RSS ${(rss0 / MiB).toFixed(0)} MiB before, at most ${(maxRss / MiB).toFixed(0)} during, ${(rss1 / MiB).toFixed(0)} after; heap ${(mem0.heapUsed / MiB).toFixed(1)} -> ${(mem1.heapUsed / MiB).toFixed(1)} MiB`,
    `mutations: ${Object.entries(t.byMutation).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `operation label values in the metrics: ${operationLabels.size}`,
  ].join('\n'));

  expect(t.frames).toBeGreaterThanOrEqual(FRAMES);
  expect(t.hung).toBe(0);
  expect(t.undecodable).toBe(0);
  expect(t.refusedRegistered).toBe(0);
  expect(steadyFailed).toBe(0);
  expect(steadyOk).toBeGreaterThan(0);
  expect(freshFailed).toBe(0);
  // Bounded while it ran: one descriptor per open client connection, plus slack.
  expect(maxFds).toBeLessThanOrEqual(fds0 + CONCURRENCY + 2 + 16);
  expect(maxRss).toBeLessThanOrEqual(rss0 + 160 * MiB);
  // And back where it started.
  expect(fds1).toBeLessThanOrEqual(fds0 + 4);
  expect(mem1.heapUsed).toBeLessThanOrEqual(mem0.heapUsed + 8 * MiB);
  expect([...operationLabels].filter((l) => l !== 'other' && !KNOWN_OPERATIONS.has(Number(l)))).toEqual([]);
}, Math.max(120_000, FRAMES * 15));
