// Benchmark (d): the full stack in its default configuration — kmip-gateway,
// key-lifecycle (key cache on, 30 s), crk-wrapping, the Key Protect emulator
// (HTTP, as `npm start`) and Redis with AOF appendfsync always, each its own
// process, mTLS between them — next to PyKMIP's own server (pykmip-server,
// SQLite) under the same load in the same run: persistent connections,
// vCenter-shaped Get of a hot set of keys created first, and durable Create;
// then the same Get in strict mode (LIFECYCLE_CACHE_TTL_MS=0: every Get asks
// the provider), the same Get against a bare Node TLS echo server over the
// same connections, and a storm of 1,000 ESXi-like clients at once (handshake,
// Discover Versions, Get, close) against the full stack and against a bare TLS
// server answering the same bytes. Aims: default Get >= 20x PyKMIP and >= 0.1x
// the echo rate, strict Get >= 4x, durable Create >= 10x, 0 errors; storm
// handshake p99 <= 1.25x the bare server's, 0 errors.
//   npm run bench:stack -w test
//   PERF_DURATION (s, 10), PERF_WARMUP (s, 2), PERF_CONNECTIONS (16), PERF_WORKERS (2), PERF_KEYS (32 keys to Get),
//   PERF_CLIENTS (1000, storm; 0 skips it), PERF_STRICT (1; 0 skips strict mode)
//   PERF_CPU_PROF=name,name (node --cpu-prof of those services), PERF_CPU_PROF_DIR
import { KmipClient } from '../lib/kmip-client';
import { vcenter } from '@keywarden/kmip';
import { LoadOp } from './messages';
import { LoadResult, formatResult, runLoad } from './loadgen';
import { BenchPki, ServerKind, benchPki, ensureFileLimit, envSeconds, machineLine, removeDir, sleep, startServer, tempDir, target } from './proc';
import { startPyKmip } from './pykmip';
import { startStackProcesses } from './stack-procs';
import { fmtInt, fmtMs, ratio } from './stats';

async function createKeys(pki: BenchPki, port: number, n: number): Promise<string[]> {
  const t = target(pki, port);
  const c = await KmipClient.connect({ ...t });
  try {
    const uids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await c.send(vcenter.create(i + 1));
      const item = r.batchItems[0];
      if (item.resultStatus !== 0) throw new Error(`Create failed: ${item.resultMessage ?? item.resultReason}`);
      uids.push(item.payload.uniqueIdentifier as string);
    }
    return uids;
  } finally {
    await c.close();
  }
}

interface Run {
  load: LoadResult;
  cpu: Record<string, number>;
}

async function drive(pki: BenchPki, port: number, op: LoadOp, uids: string[], cpu: () => Record<string, number>, expect: 'kmip' | 'echo' = 'kmip'): Promise<Run> {
  const durationMs = envSeconds('PERF_DURATION', 10) * 1000;
  const warmupMs = envSeconds('PERF_WARMUP', 2) * 1000;
  const c0 = cpu();
  const load = await runLoad({
    ...target(pki, port), mode: 'persistent', op, uids,
    connections: envSeconds('PERF_CONNECTIONS', 16), workers: envSeconds('PERF_WORKERS', 2), depth: 1,
    durationMs, warmupMs, expect, connectConcurrency: 0, timeoutMs: 30_000,
  });
  const c1 = cpu();
  const secs = (durationMs + warmupMs) / 1000;
  return { load, cpu: Object.fromEntries(Object.entries(c1).map(([k, v]) => [k, (v - (c0[k] ?? 0)) / secs])) };
}

/** `clients` connecting at once, each: handshake, Discover Versions, Get of `uid`, close. */
function storm(pki: BenchPki, port: number, uid: string, clients: number): Promise<LoadResult> {
  return runLoad({
    ...target(pki, port), mode: 'fresh', op: 'get', uids: [uid],
    connections: clients, count: clients, workers: envSeconds('PERF_WORKERS', 4), depth: 1,
    warmupMs: 0, expect: 'kmip', connectConcurrency: 0, timeoutMs: 60_000,
  });
}

/** A bare TLS server of test/perf/server.ts (same certificate and TLS settings) for the same run. */
async function withBare<T>(pki: BenchPki, kind: ServerKind, fn: (port: number, cpu: () => Record<string, number>) => Promise<T>): Promise<T> {
  const server = await startServer(kind, pki);
  try {
    await sleep(300);
    return await fn(server.port, () => ({ [kind]: server.cpuSeconds() }));
  } finally {
    await server.stop();
  }
}

const cpuLine = (cpu: Record<string, number>) => '  server CPU (cores): ' + Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');

async function main(): Promise<void> {
  const clients = envSeconds('PERF_CLIENTS', 1000);
  if (clients > 0) ensureFileLimit(clients + 400);
  console.log('Benchmark (d): full stack (default configuration, separate processes) vs PyKMIP server and bare TLS servers, same load, same run');
  console.log(machineLine());
  const pki = benchPki();
  const nKeys = envSeconds('PERF_KEYS', 32);
  let pykmip: Record<'get' | 'create', Run>;
  let stack: Record<'get' | 'create', Run>;
  let strict: Run | undefined;
  let storms: { stack: LoadResult; bare: LoadResult } | undefined;

  {
    const dir = tempDir('pykmip');
    const py = await startPyKmip(pki, dir);
    try {
      const uids = await createKeys(pki, py.port, nKeys);
      const cpu = () => ({ 'pykmip-server': py.cpuSeconds() });
      const get = await drive(pki, py.port, 'get', uids, cpu);
      console.log(formatResult('PyKMIP server', get.load) + '\n' + cpuLine(get.cpu));
      const create = await drive(pki, py.port, 'create', [], cpu);
      console.log(formatResult('PyKMIP server', create.load) + '\n' + cpuLine(create.cpu));
      pykmip = { get, create };
    } finally {
      await py.stop();
      removeDir(dir);
    }
  }
  {
    const dir = tempDir('stack');
    const s = await startStackProcesses(pki, dir);
    try {
      const uids = await createKeys(pki, s.kmipPort, nKeys);
      const get = await drive(pki, s.kmipPort, 'get', uids, s.cpuSeconds);
      console.log(formatResult('keywarden full stack (default: key cache 30 s)', get.load) + '\n' + cpuLine(get.cpu));
      const create = await drive(pki, s.kmipPort, 'create', [], s.cpuSeconds);
      console.log(formatResult('keywarden full stack', create.load) + '\n' + cpuLine(create.cpu));
      stack = { get, create };
      if (clients > 0) {
        // The bare server's storm runs while the stack idles, then the stack's.
        const bare = await withBare(pki, 'canned', (port) => storm(pki, port, uids[0], clients));
        console.log(formatResult(`storm of ${clients}: bare TLS server answering the same bytes`, bare));
        await sleep(500);
        const full = await storm(pki, s.kmipPort, uids[0], clients);
        console.log(formatResult(`storm of ${clients}: keywarden full stack`, full));
        storms = { stack: full, bare };
      }
    } finally {
      await s.stop();
      removeDir(dir);
    }
  }
  if (process.env.PERF_STRICT !== '0') {
    const dir = tempDir('stack-strict');
    const s = await startStackProcesses(pki, dir, { LIFECYCLE_CACHE_TTL_MS: '0' });
    try {
      const uids = await createKeys(pki, s.kmipPort, nKeys);
      strict = await drive(pki, s.kmipPort, 'get', uids, s.cpuSeconds);
      console.log(formatResult('keywarden full stack, strict mode (LIFECYCLE_CACHE_TTL_MS=0)', strict.load) + '\n' + cpuLine(strict.cpu));
    } finally {
      await s.stop();
      removeDir(dir);
    }
  }
  const echo = await withBare(pki, 'echo', (port, cpu) => drive(pki, port, 'get', ['6f1f4a52-0b1e-4c1a-9d55-3c2b8e0d7a11'], cpu, 'echo'));
  console.log(formatResult('bare TLS echo server (same connections, Get-sized messages)', echo.load) + '\n' + cpuLine(echo.cpu));

  console.log('\n== Summary');
  const line = (name: string, k: LoadResult, p: LoadResult, aim: number) => {
    const met = k.rate >= aim * p.rate && k.errors === 0;
    console.log(`${name.padEnd(15)} keywarden ${fmtInt(k.rate).padStart(6)}/s (p99 ${fmtMs(k.latency.p99)} ms, errors ${k.errors})   PyKMIP ${fmtInt(p.rate).padStart(5)}/s (p99 ${fmtMs(p.latency.p99)} ms, errors ${p.errors})   ratio ${ratio(k.rate, p.rate)}   aim >= ${aim}x: ${met ? 'MET' : 'NOT MET'}`);
  };
  line('Get (default)', stack.get.load, pykmip.get.load, 20);
  const e = echo.load;
  console.log(`${''.padEnd(15)} vs bare TLS echo ${fmtInt(e.rate)}/s: ratio ${ratio(stack.get.load.rate, e.rate)}   aim >= 0.1x: ${stack.get.load.rate >= 0.1 * e.rate ? 'MET' : 'NOT MET'}`);
  if (strict) line('Get (strict)', strict.load, pykmip.get.load, 4);
  line('durable Create', stack.create.load, pykmip.create.load, 10);
  if (storms) {
    const k = storms.stack;
    const b = storms.bare;
    const met = k.handshake.p99 <= 1.25 * b.handshake.p99 && k.errors === 0;
    console.log(`${'storm'.padEnd(15)} ${clients} clients: handshake p99 keywarden ${fmtMs(k.handshake.p99)} ms (errors ${k.errors})   bare TLS ${fmtMs(b.handshake.p99)} ms (errors ${b.errors})   ratio ${ratio(k.handshake.p99, b.handshake.p99)}   aim <= 1.25x, 0 errors: ${met ? 'MET' : 'NOT MET'}`);
    console.log(`${''.padEnd(15)} transaction p99 keywarden ${fmtMs(k.latency.p99)} ms   bare ${fmtMs(b.latency.p99)} ms; storm done in ${(k.windowMs / 1000).toFixed(2)} s vs ${(b.windowMs / 1000).toFixed(2)} s`);
  }
  const perOp = (r: Run) => Object.values(r.cpu).reduce((a, b) => a + b, 0) / r.load.rate * 1e6;
  console.log(`Stack CPU per operation: Get ${fmtInt(perOp(stack.get))} µs, Create ${fmtInt(perOp(stack.create))} µs` +
    (strict ? `, strict Get ${fmtInt(perOp(strict))} µs` : '') + ' (all services and Redis; see bench:hops for the floor)');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
