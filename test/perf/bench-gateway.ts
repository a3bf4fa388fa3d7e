// Benchmark (a): the kmip-gateway over a stub backend next to a bare Node TLS
// echo server, both as separate processes, under the same load (connection
// count, message mix, generator) in the same run. Aim (docs/benchmarks.md):
// gateway at least 0.5x the echo server's message rate.
//   npm run bench:gateway -w test
//   PERF_DURATION (s, 8), PERF_WARMUP (s, 2), PERF_CONNECTIONS (16), PERF_WORKERS (2), PERF_ROUNDS (2)
import { LoadOp } from './messages';
import { LoadResult, formatResult, runLoad } from './loadgen';
import { BenchPki, PerfServer, ServerKind, benchPki, envSeconds, machineLine, startServer, target } from './proc';
import { fmtInt, fmtMs, median, ratio } from './stats';

interface Scenario {
  name: string;
  mode: 'persistent' | 'fresh';
  op: LoadOp;
}

const SCENARIOS: Scenario[] = [
  { name: 'persistent Get', mode: 'persistent', op: 'get' },
  { name: 'persistent Create', mode: 'persistent', op: 'create' },
  { name: 'fresh connection (handshake, Discover Versions, Get, close)', mode: 'fresh', op: 'get' },
];

interface Measured {
  load: LoadResult;
  /** Server process CPU during the run, in cores. */
  serverCores: number;
}

async function measure(pki: BenchPki, kind: ServerKind, s: Scenario): Promise<Measured> {
  const server: PerfServer = await startServer(kind, pki);
  try {
    const durationMs = envSeconds('PERF_DURATION', 8) * 1000;
    const warmupMs = envSeconds('PERF_WARMUP', 2) * 1000;
    const cpu0 = server.cpuSeconds();
    const load = await runLoad({
      ...target(pki, server.port),
      mode: s.mode, op: s.op, uids: ['6f1f4a52-0b1e-4c1a-9d55-3c2b8e0d7a11'],
      connections: envSeconds('PERF_CONNECTIONS', 16), workers: envSeconds('PERF_WORKERS', 2), depth: 1,
      durationMs, warmupMs, expect: kind === 'echo' ? 'echo' : 'kmip', connectConcurrency: 0, timeoutMs: 10_000,
    });
    const serverCores = (server.cpuSeconds() - cpu0) / ((durationMs + warmupMs) / 1000);
    return { load, serverCores };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  console.log('Benchmark (a): kmip-gateway over a stub backend vs a bare Node TLS echo server (same run)');
  console.log(machineLine());
  const pki = benchPki();
  const rounds = envSeconds('PERF_ROUNDS', 2);
  const summary: string[] = [];
  let allMet = true;
  for (const s of SCENARIOS) {
    console.log(`\n== ${s.name}`);
    const echo: Measured[] = [];
    const gw: Measured[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so drift on a shared machine does not favour one side.
      const order: ServerKind[] = r % 2 === 0 ? ['echo', 'stub-gateway'] : ['stub-gateway', 'echo'];
      for (const kind of order) {
        const m = await measure(pki, kind, s);
        (kind === 'echo' ? echo : gw).push(m);
        console.log(formatResult(`[round ${r + 1}] ${kind === 'echo' ? 'bare TLS echo' : 'gateway (stub backend)'}`, m.load));
        console.log(`  server CPU ${m.serverCores.toFixed(2)} cores`);
      }
    }
    const e = median(echo.map((m) => m.load.rate));
    const g = median(gw.map((m) => m.load.rate));
    const errors = [...echo, ...gw].reduce((n, m) => n + m.load.errors, 0);
    const met = g >= 0.5 * e && errors === 0;
    allMet &&= met;
    const p99 = (ms: Measured[]) => fmtMs(median(ms.map((m) => m.load.latency.p99)));
    summary.push(
      `${s.name.padEnd(62)} gateway ${fmtInt(g).padStart(7)}/s  echo ${fmtInt(e).padStart(7)}/s  ratio ${ratio(g, e)}` +
      `  p99 ${p99(gw)} vs ${p99(echo)} ms  errors ${errors}  aim >= 0.50x: ${met ? 'MET' : 'NOT MET'}`,
    );
  }
  console.log('\n== Summary (median of rounds; rates are messages/s for persistent, connections/s for fresh)');
  for (const l of summary) console.log(l);
  if (!allMet) process.exitCode = 0; // figures are reported, not asserted
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
