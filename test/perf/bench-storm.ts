// Benchmark (b): a connection storm — 1,000 clients connecting at once, each
// doing the TLS handshake (client certificate), Discover Versions and Get,
// then closing (ESXi hosts after a cluster restart) — against the kmip-gateway
// over a stub backend and against a bare Node TLS server with the same
// certificate and TLS settings that answers the same bytes, in the same run.
// Clients run in separate processes. Aim (docs/benchmarks.md): 0 errors and
// gateway handshake p99 at most 1.25x the bare server's.
//   npm run bench:storm -w test
//   PERF_CLIENTS (1000), PERF_WORKERS (4), PERF_ROUNDS (3)
import { LoadResult, formatResult, runLoad } from './loadgen';
import { BenchPki, ServerKind, benchPki, ensureFileLimit, envSeconds, machineLine, sleep, startServer, target } from './proc';
import { Summary, fmtMs, median, ratio } from './stats';

async function storm(pki: BenchPki, kind: ServerKind, clients: number): Promise<{ load: LoadResult; serverCpu: number }> {
  const server = await startServer(kind, pki);
  try {
    await sleep(300);
    const cpu0 = server.cpuSeconds();
    const load = await runLoad({
      ...target(pki, server.port),
      mode: 'fresh', op: 'get', uids: ['6f1f4a52-0b1e-4c1a-9d55-3c2b8e0d7a11'],
      connections: clients, count: clients, workers: envSeconds('PERF_WORKERS', 4), depth: 1,
      warmupMs: 0, expect: 'kmip', connectConcurrency: 0, timeoutMs: 60_000,
    });
    return { load, serverCpu: server.cpuSeconds() - cpu0 };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const clients = envSeconds('PERF_CLIENTS', 1000);
  ensureFileLimit(clients + 200);
  console.log(`Benchmark (b): storm of ${clients} clients at once (handshake, Discover Versions, Get, close): kmip-gateway (stub backend) vs bare Node TLS server answering the same bytes (same run)`);
  console.log(machineLine());
  const pki = benchPki();
  const rounds = envSeconds('PERF_ROUNDS', 3);
  const results: Record<'gw' | 'bare', LoadResult[]> = { gw: [], bare: [] };
  const cpu: Record<'gw' | 'bare', number[]> = { gw: [], bare: [] };
  for (let r = 0; r < rounds; r++) {
    const order: ServerKind[] = r % 2 === 0 ? ['canned', 'stub-gateway'] : ['stub-gateway', 'canned'];
    for (const kind of order) {
      const { load, serverCpu } = await storm(pki, kind, clients);
      (kind === 'canned' ? results.bare : results.gw).push(load);
      (kind === 'canned' ? cpu.bare : cpu.gw).push(serverCpu);
      console.log(formatResult(`[round ${r + 1}] ${kind === 'canned' ? 'bare TLS server' : 'gateway (stub backend)'}`, load));
      console.log(`  storm done in ${(load.windowMs / 1000).toFixed(2)} s; server CPU ${serverCpu.toFixed(2)} s`);
    }
  }
  const med = (rs: LoadResult[], f: (s: Summary) => number, pick: (r: LoadResult) => Summary) => median(rs.map((r) => f(pick(r))));
  const errors = (rs: LoadResult[]) => rs.reduce((n, r) => n + r.errors, 0);
  const hs = (r: LoadResult) => r.handshake;
  const tx = (r: LoadResult) => r.latency;
  const gp99 = med(results.gw, (s) => s.p99, hs);
  const bp99 = med(results.bare, (s) => s.p99, hs);
  console.log('\n== Summary (median of rounds)');
  console.log(`handshake p50   gateway ${fmtMs(med(results.gw, (s) => s.p50, hs))} ms   bare ${fmtMs(med(results.bare, (s) => s.p50, hs))} ms   ratio ${ratio(med(results.gw, (s) => s.p50, hs), med(results.bare, (s) => s.p50, hs))}`);
  console.log(`handshake p99   gateway ${fmtMs(gp99)} ms   bare ${fmtMs(bp99)} ms   ratio ${ratio(gp99, bp99)}   aim <= 1.25x: ${gp99 <= 1.25 * bp99 ? 'MET' : 'NOT MET'}`);
  console.log(`transaction p99 gateway ${fmtMs(med(results.gw, (s) => s.p99, tx))} ms   bare ${fmtMs(med(results.bare, (s) => s.p99, tx))} ms   ratio ${ratio(med(results.gw, (s) => s.p99, tx), med(results.bare, (s) => s.p99, tx))}`);
  const perConn = (xs: number[]) => (median(xs) / clients) * 1000;
  console.log(`server CPU/conn gateway ${fmtMs(perConn(cpu.gw))} ms   bare ${fmtMs(perConn(cpu.bare))} ms   ratio ${ratio(perConn(cpu.gw), perConn(cpu.bare))}`);
  console.log(`errors          gateway ${errors(results.gw)}   bare ${errors(results.bare)}   aim 0: ${errors(results.gw) === 0 ? 'MET' : 'NOT MET'}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
