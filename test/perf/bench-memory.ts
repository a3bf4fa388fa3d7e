// Benchmark (c): resident memory of the kmip-gateway (stub backend) holding
// 10,000 idle TLS connections (each after its handshake and one Discover
// Versions), next to a bare Node TLS server (same certificate and TLS
// settings) holding as many, in the same run. Clients run in separate
// processes. Aim (docs/benchmarks.md): at most 64 KiB per connection.
//   npm run bench:memory -w test
//   PERF_CONNECTIONS (10000), PERF_WORKERS (4), PERF_CONCURRENCY (200 handshakes at a time)
import { holdConnections } from './loadgen';
import { BenchPki, ServerKind, benchPki, ensureFileLimit, envSeconds, machineLine, sleep, startServer, target } from './proc';
import { fmtInt, fmtMs, ratio } from './stats';

interface Footprint {
  kind: ServerKind;
  held: number;
  errors: number;
  rssIdle: number;
  rssHeld: number;
  heapUsed: number;
  external: number;
  stillOpen: number;
  handshakeP99: number;
}

const MiB = 1024 * 1024;

async function footprint(pki: BenchPki, kind: ServerKind, n: number): Promise<Footprint> {
  const server = await startServer(kind, pki, { exposeGc: true });
  try {
    await server.memoryUsage(); // GC once
    await sleep(500);
    const rssIdle = server.rss();
    const held = await holdConnections({
      ...target(pki, server.port),
      mode: 'hold', op: 'discover', uids: [], connections: n, workers: envSeconds('PERF_WORKERS', 4), depth: 1,
      warmupMs: 0, expect: 'kmip', connectConcurrency: envSeconds('PERF_CONCURRENCY', 200), timeoutMs: 30_000,
    });
    try {
      await sleep(2000);
      const mem = await server.memoryUsage();
      await sleep(500);
      const rssHeld = server.rss();
      const stillOpen = await held.stillOpen();
      return { kind, held: held.opened, errors: held.errors, rssIdle, rssHeld, heapUsed: mem.heapUsed, external: mem.external, stillOpen, handshakeP99: held.handshake.p99 };
    } finally {
      await held.release();
    }
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const n = envSeconds('PERF_CONNECTIONS', 10_000);
  ensureFileLimit(n + 500);
  console.log(`Benchmark (c): server memory with ${fmtInt(n)} idle TLS connections: kmip-gateway (stub backend) vs bare Node TLS server (same run)`);
  console.log(machineLine());
  const pki = benchPki();
  const out: Footprint[] = [];
  for (const kind of ['canned', 'stub-gateway'] as ServerKind[]) {
    const f = await footprint(pki, kind, n);
    out.push(f);
    const label = kind === 'canned' ? 'bare TLS server' : 'gateway (stub backend)';
    console.log(`${label}: ${fmtInt(f.held)} connections held (${f.stillOpen} still open at measurement), errors ${f.errors}, handshake p99 ${fmtMs(f.handshakeP99)} ms`);
    console.log(`  RSS idle ${(f.rssIdle / MiB).toFixed(1)} MiB, with connections ${(f.rssHeld / MiB).toFixed(1)} MiB; heap used ${(f.heapUsed / MiB).toFixed(1)} MiB, external ${(f.external / MiB).toFixed(1)} MiB`);
    console.log(`  per connection: ${((f.rssHeld - f.rssIdle) / Math.max(1, f.held) / 1024).toFixed(1)} KiB (RSS growth), ${(f.rssHeld / Math.max(1, f.held) / 1024).toFixed(1)} KiB (total RSS / connections)`);
  }
  const [bare, gw] = out;
  const per = (f: Footprint) => (f.rssHeld - f.rssIdle) / Math.max(1, f.held) / 1024;
  const total = (f: Footprint) => f.rssHeld / Math.max(1, f.held) / 1024;
  console.log('\n== Summary');
  console.log(`gateway RSS ${(gw.rssHeld / MiB).toFixed(0)} MiB with ${fmtInt(gw.held)} connections; bare ${(bare.rssHeld / MiB).toFixed(0)} MiB with ${fmtInt(bare.held)}`);
  console.log(`per connection (RSS growth)   gateway ${per(gw).toFixed(1)} KiB   bare ${per(bare).toFixed(1)} KiB   ratio ${ratio(per(gw), per(bare))}`);
  console.log(`per connection (total RSS)    gateway ${total(gw).toFixed(1)} KiB   bare ${total(bare).toFixed(1)} KiB   aim <= 64 KiB: ${total(gw) <= 64 && gw.held === n ? 'MET' : 'NOT MET'}`);
  console.log(`errors gateway ${gw.errors}, bare ${bare.errors}; connections all held: ${gw.held === n && gw.stillOpen === n ? 'yes' : 'no'}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
