// Benchmark (d): the full stack in its default configuration — kmip-gateway,
// key-lifecycle, crk-wrapping, the Key Protect emulator (HTTP, as `npm start`) and Redis with
// AOF appendfsync always, each its own process, mTLS between them — next to
// PyKMIP's own server (pykmip-server, SQLite) under the same load in the same
// run: persistent connections, vCenter-shaped Get (of keys created first)
// and Create. Aims (design.md "Targets"): Get >= 20x PyKMIP, durable Create
// >= 10x PyKMIP, 0 errors.
//   npm run bench:stack -w test
//   PERF_DURATION (s, 10), PERF_WARMUP (s, 2), PERF_CONNECTIONS (16), PERF_WORKERS (2), PERF_KEYS (16 keys to Get),
//   PERF_CACHE_TTL_MS (60000; also measures Get with the optional plaintext cache, 0 skips it)
//   PERF_CPU_PROF=name,name (node --cpu-prof of those services), PERF_CPU_PROF_DIR
import { KmipClient } from '../lib/kmip-client';
import { vcenter } from '@keywarden/kmip';
import { LoadOp } from './messages';
import { LoadResult, formatResult, runLoad } from './loadgen';
import { BenchPki, benchPki, envSeconds, machineLine, removeDir, tempDir, target } from './proc';
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

async function drive(pki: BenchPki, port: number, op: LoadOp, uids: string[], cpu: () => Record<string, number>): Promise<Run> {
  const durationMs = envSeconds('PERF_DURATION', 10) * 1000;
  const warmupMs = envSeconds('PERF_WARMUP', 2) * 1000;
  const c0 = cpu();
  const load = await runLoad({
    ...target(pki, port), mode: 'persistent', op, uids,
    connections: envSeconds('PERF_CONNECTIONS', 16), workers: envSeconds('PERF_WORKERS', 2), depth: 1,
    durationMs, warmupMs, expect: 'kmip', connectConcurrency: 0, timeoutMs: 30_000,
  });
  const c1 = cpu();
  const secs = (durationMs + warmupMs) / 1000;
  return { load, cpu: Object.fromEntries(Object.entries(c1).map(([k, v]) => [k, (v - (c0[k] ?? 0)) / secs])) };
}

const cpuLine = (cpu: Record<string, number>) => '  server CPU (cores): ' + Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');

async function main(): Promise<void> {
  console.log('Benchmark (d): full stack (default configuration, separate processes) vs PyKMIP server, same load, same run');
  console.log(machineLine());
  const pki = benchPki();
  const nKeys = envSeconds('PERF_KEYS', 16);
  const results: Record<string, Record<'get' | 'create', Run>> = {};

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
      results.pykmip = { get, create };
    } finally {
      await py.stop();
      removeDir(dir);
    }
  }
  {
    const dir = tempDir('stack');
    const stack = await startStackProcesses(pki, dir);
    try {
      const uids = await createKeys(pki, stack.kmipPort, nKeys);
      const get = await drive(pki, stack.kmipPort, 'get', uids, stack.cpuSeconds);
      console.log(formatResult('keywarden full stack', get.load) + '\n' + cpuLine(get.cpu));
      const create = await drive(pki, stack.kmipPort, 'create', [], stack.cpuSeconds);
      console.log(formatResult('keywarden full stack', create.load) + '\n' + cpuLine(create.cpu));
      results.stack = { get, create };
    } finally {
      await stack.stop();
      removeDir(dir);
    }
  }

  // Not the default configuration: the optional plaintext cache (LIFECYCLE_CACHE_TTL_MS), whose
  // lifetime is the revocation delay. Shown so its effect can be weighed; the aims apply to the default.
  const cacheTtl = Number(process.env.PERF_CACHE_TTL_MS ?? 60_000) || 0;
  let cached: Run | undefined;
  if (cacheTtl > 0) {
    const dir = tempDir('stack-cache');
    const stack = await startStackProcesses(pki, dir, { LIFECYCLE_CACHE_TTL_MS: String(cacheTtl) });
    try {
      const uids = await createKeys(pki, stack.kmipPort, nKeys);
      cached = await drive(pki, stack.kmipPort, 'get', uids, stack.cpuSeconds);
      console.log(formatResult(`keywarden full stack, plaintext cache ${cacheTtl} ms (not the default)`, cached.load) + '\n' + cpuLine(cached.cpu));
    } finally {
      await stack.stop();
      removeDir(dir);
    }
  }

  console.log('\n== Summary');
  for (const [op, aim] of [['get', 20], ['create', 10]] as const) {
    const k = results.stack[op].load;
    const p = results.pykmip[op].load;
    const met = k.rate >= aim * p.rate && k.errors === 0;
    console.log(`${(op === 'get' ? 'Get' : 'durable Create').padEnd(15)} keywarden ${fmtInt(k.rate).padStart(6)}/s (p99 ${fmtMs(k.latency.p99)} ms, errors ${k.errors})   PyKMIP ${fmtInt(p.rate).padStart(5)}/s (p99 ${fmtMs(p.latency.p99)} ms, errors ${p.errors})   ratio ${ratio(k.rate, p.rate)}   aim >= ${aim}x: ${met ? 'MET' : 'NOT MET'}`);
  }
  if (cached) {
    const k = cached.load;
    const p = results.pykmip.get.load;
    console.log(`${'Get, cached'.padEnd(15)} keywarden ${fmtInt(k.rate).padStart(6)}/s (p99 ${fmtMs(k.latency.p99)} ms, errors ${k.errors})   PyKMIP ${fmtInt(p.rate).padStart(5)}/s` +
      `   ratio ${ratio(k.rate, p.rate)}   (LIFECYCLE_CACHE_TTL_MS=${cacheTtl}, revocation delay up to that long; not the default, no aim)`);
  }
  const perOp = (r: Run) => Object.values(r.cpu).reduce((a, b) => a + b, 0) / r.load.rate * 1e6;
  console.log(`Stack CPU per operation: Get ${fmtInt(perOp(results.stack.get))} µs, Create ${fmtInt(perOp(results.stack.create))} µs` +
    (cached ? `, cached Get ${fmtInt(perOp(cached))} µs` : '') + ' (all services and Redis; see bench:hops for the floor)');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
