// KMIP load generator: N TLS connections split over worker processes, vCenter-
// shaped Get / Create / Discover Versions requests (libs/kmip samples),
// persistent (many requests per connection) or fresh-connection mode
// (connect, TLS handshake, Discover Versions, the operation, close — ESXi
// hosts after a cluster restart). Prints rate, errors, latency percentiles
// and the generator's own CPU use.
//
//   node test/dist/perf/loadgen.js --port 5696 --pki DIR [options]
//     --host H (127.0.0.1)  --servername S (localhost)
//     --pki DIR             ca.crt, client.crt, client.key (as ensureDevPki writes)
//     --mode persistent|fresh (persistent)   --op get|create|discover (get)
//     --uid UID             Unique Identifier to Get (repeatable; default: create one first)
//     --connections N (16)  --workers W (2)  --depth D (1, requests in flight per connection)
//     --duration S (10)  or  --count N (operations, or transactions in fresh mode)
//     --warmup S (2)  --concurrency C (fresh: simultaneous handshakes, 0 = all at once)
//     --timeout MS (10000)  --expect kmip|echo (kmip)  --json
import { ChildProcess, fork } from 'child_process';
import fs from 'fs';
import path from 'path';
import { parseArgs } from 'util';
import { Worker, WorkerConfig, WorkerResult } from './loadgen-worker';
import { LoadOp } from './messages';
import { Summary, concat, fmtInt, fmtMs, summarize } from './stats';

export interface LoadOptions extends Omit<WorkerConfig, 'connections' | 'count' | 'index'> {
  connections: number;
  count?: number;
  /** Worker processes; 0 runs in this process (tests). */
  workers: number;
}

export interface LoadResult {
  mode: string;
  op: LoadOp;
  connections: number;
  workers: number;
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  /** Operations (persistent) or transactions (fresh) per second. */
  rate: number;
  windowMs: number;
  latency: Summary;
  handshake: Summary;
  /** Generator CPU, seconds, summed over workers; and as cores (CPU seconds / window). */
  generatorCpuSeconds: number;
  generatorCores: number;
}

export interface RunningLoad {
  /** Resolves when every worker is ready (persistent connections open). */
  ready: Promise<void>;
  /** Starts the run; resolves with the aggregate. */
  go(): Promise<LoadResult>;
  /** Stops and kills worker processes. */
  kill(): void;
}

const WORKER_JS = path.join(__dirname, 'loadgen-worker.js');

function split(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

function workerConfigs(o: LoadOptions): WorkerConfig[] {
  const n = Math.max(1, Math.min(o.workers || 1, o.connections));
  return Array.from({ length: n }, (_, i) => {
    const { workers: _w, ...rest } = o;
    return {
      ...rest,
      index: i,
      connections: split(o.connections, n, i),
      count: o.count === undefined ? undefined : split(o.count, n, i),
      connectConcurrency: o.connectConcurrency > 0 ? Math.max(1, split(o.connectConcurrency, n, i)) : 0,
    };
  });
}

export function aggregate(o: LoadOptions, results: WorkerResult[]): LoadResult {
  const errorKinds: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  const ok = results.reduce((n, r) => n + r.ok, 0);
  const windowMs = Math.max(...results.map((r) => r.windowMs));
  const cpu = results.reduce((n, r) => n + r.cpuSeconds, 0);
  return {
    mode: o.mode, op: o.op, connections: o.connections, workers: o.workers,
    ok, errors: results.reduce((n, r) => n + r.errors, 0), errorKinds,
    rate: windowMs > 0 ? ok / (windowMs / 1000) : 0,
    windowMs,
    latency: summarize(concat(results.map((r) => r.latency))),
    handshake: summarize(concat(results.map((r) => r.handshake))),
    generatorCpuSeconds: cpu,
    generatorCores: windowMs > 0 ? cpu / (windowMs / 1000) : 0,
  };
}

type Msg = { type: string; result?: WorkerResult; message?: string; held?: number };

/** A set of worker processes (or one in-process worker) with a common start signal. */
class Fleet {
  readonly children: ChildProcess[] = [];
  private readonly inbox: Array<Msg[]> = [];
  private readonly waiters: Array<Array<(m: Msg) => void>> = [];
  private readonly local: Worker[] = [];
  private localPrepared: Promise<unknown>[] = [];

  constructor(readonly cfgs: WorkerConfig[], inProcess: boolean) {
    if (inProcess) {
      for (const c of cfgs) {
        const w = new Worker(c);
        this.local.push(w);
        this.localPrepared.push(w.prepare());
      }
      return;
    }
    cfgs.forEach((cfg, i) => {
      const child = fork(WORKER_JS, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.children.push(child);
      this.inbox.push([]);
      this.waiters.push([]);
      child.on('message', (m: Msg) => {
        const w = this.waiters[i].shift();
        if (w) w(m); else this.inbox[i].push(m);
      });
      child.on('exit', (code) => {
        const w = this.waiters[i].shift();
        if (w) w({ type: 'fatal', message: `load worker exited (${code})` });
      });
      child.send({ type: 'config', cfg });
    });
  }

  private next(i: number): Promise<Msg> {
    const m = this.inbox[i].shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.waiters[i].push(resolve));
  }

  async all(type: string, send?: object): Promise<Msg[]> {
    if (send) for (const c of this.children) c.send(send);
    const msgs = await Promise.all(this.children.map((_, i) => this.next(i)));
    const bad = msgs.find((m) => m.type !== type);
    if (bad) throw new Error(`load worker: ${bad.message ?? bad.type}`);
    return msgs;
  }

  async ready(): Promise<void> {
    if (this.local.length) { await Promise.all(this.localPrepared); return; }
    await this.all('ready');
  }

  async run(): Promise<WorkerResult[]> {
    if (this.local.length) {
      const prepared = await Promise.all(this.localPrepared) as Parameters<Worker['run']>[0][];
      return Promise.all(this.local.map((w, i) => w.run(prepared[i])));
    }
    return (await this.all('result', { type: 'go' })).map((m) => m.result as WorkerResult);
  }

  async hold(): Promise<WorkerResult[]> {
    if (this.local.length) return Promise.all(this.local.map((w) => w.hold()));
    return (await this.all('held', { type: 'hold' })).map((m) => m.result as WorkerResult);
  }

  async stillHeld(): Promise<number> {
    if (this.local.length) return this.local.reduce((n, w) => n + w.stillHeld(), 0);
    return (await this.all('checked', { type: 'check' })).reduce((n, m) => n + (m.held ?? 0), 0);
  }

  async release(): Promise<void> {
    if (this.local.length) { await Promise.all(this.local.map((w) => w.closeAll())); return; }
    await this.all('released', { type: 'release' });
  }

  kill(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** Starts the workers; call go() once `ready` resolves. */
export function startLoad(o: LoadOptions): RunningLoad {
  const fleet = new Fleet(workerConfigs(o), o.workers === 0);
  const ready = fleet.ready();
  ready.catch(() => undefined);
  return {
    ready,
    go: async () => {
      await ready;
      try {
        return aggregate(o, await fleet.run());
      } finally {
        fleet.kill();
      }
    },
    kill: () => fleet.kill(),
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const l = startLoad(o);
  try {
    await l.ready;
    return await l.go();
  } finally {
    l.kill();
  }
}

export interface HeldConnections {
  opened: number;
  errors: number;
  errorKinds: Record<string, number>;
  handshake: Summary;
  generatorCpuSeconds: number;
  /** How many are still open (not closed by the server). */
  stillOpen(): Promise<number>;
  release(): Promise<void>;
  kill(): void;
}

/** Opens `connections` connections (handshake + one Discover Versions each) and keeps them open. */
export async function holdConnections(o: LoadOptions): Promise<HeldConnections> {
  const fleet = new Fleet(workerConfigs({ ...o, mode: 'hold' }), o.workers === 0);
  try {
    await fleet.ready();
    const rs = await fleet.hold();
    const agg = aggregate({ ...o, mode: 'hold' }, rs);
    return {
      opened: rs.reduce((n, r) => n + (r.held ?? 0), 0),
      errors: agg.errors, errorKinds: agg.errorKinds, handshake: agg.handshake, generatorCpuSeconds: agg.generatorCpuSeconds,
      stillOpen: () => fleet.stillHeld(),
      release: async () => { await fleet.release(); fleet.kill(); },
      kill: () => fleet.kill(),
    };
  } catch (e) {
    fleet.kill();
    throw e;
  }
}

export function formatResult(label: string, r: LoadResult): string {
  const lat = r.latency;
  const lines = [
    `${label}: ${r.mode} ${r.op}, ${r.connections} connections, ${r.workers} worker process(es)`,
    `  rate ${fmtInt(r.rate)}/s (${fmtInt(r.ok)} ok in ${(r.windowMs / 1000).toFixed(1)} s), errors ${r.errors}`,
    `  latency ms p50 ${fmtMs(lat.p50)}  p90 ${fmtMs(lat.p90)}  p99 ${fmtMs(lat.p99)}  max ${fmtMs(lat.max)}`,
  ];
  if (r.handshake.count) {
    const h = r.handshake;
    lines.push(`  handshake ms p50 ${fmtMs(h.p50)}  p90 ${fmtMs(h.p90)}  p99 ${fmtMs(h.p99)}  max ${fmtMs(h.max)} (${h.count})`);
  }
  lines.push(`  generator CPU ${r.generatorCpuSeconds.toFixed(1)} s (${r.generatorCores.toFixed(2)} cores)`);
  for (const [k, v] of Object.entries(r.errorKinds).slice(0, 5)) lines.push(`  error x${v}: ${k}`);
  return lines.join('\n');
}

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      servername: { type: 'string', default: 'localhost' },
      pki: { type: 'string' },
      mode: { type: 'string', default: 'persistent' },
      op: { type: 'string', default: 'get' },
      uid: { type: 'string', multiple: true },
      connections: { type: 'string', default: '16' },
      workers: { type: 'string', default: '2' },
      depth: { type: 'string', default: '1' },
      duration: { type: 'string' },
      count: { type: 'string' },
      warmup: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '0' },
      timeout: { type: 'string', default: '10000' },
      expect: { type: 'string', default: 'kmip' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values.port || !values.pki) {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n');
    return;
  }
  const mode = values.mode as WorkerConfig['mode'];
  if (mode !== 'persistent' && mode !== 'fresh') throw new Error('--mode is persistent or fresh');
  const op = values.op as LoadOp;
  if (!['get', 'create', 'discover'].includes(op)) throw new Error('--op is get, create or discover');
  const expect = values.expect as WorkerConfig['expect'];
  if (expect !== 'kmip' && expect !== 'echo') throw new Error('--expect is kmip or echo');
  const pki = values.pki;
  const read = (f: string) => fs.readFileSync(path.join(pki, f), 'utf8');
  const base = {
    host: values.host as string, port: Number(values.port), servername: values.servername as string,
    ca: read('ca.crt'), cert: read('client.crt'), key: read('client.key'),
  };
  let uids = values.uid ?? [];
  if (op === 'get' && uids.length === 0 && expect === 'kmip') uids = [await createKey(base)];
  const r = await runLoad({
    ...base, mode, op, uids, expect,
    connections: Number(values.connections), workers: Number(values.workers), depth: Number(values.depth),
    durationMs: values.count ? undefined : Number(values.duration ?? 10) * 1000,
    count: values.count ? Number(values.count) : undefined,
    warmupMs: values.count ? 0 : Number(values.warmup) * 1000,
    connectConcurrency: Number(values.concurrency), timeoutMs: Number(values.timeout),
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  } else {
    process.stdout.write(formatResult('loadgen', r) + '\n');
  }
  if (r.errors > 0) process.exitCode = 1;
}

/** Creates one AES-256 key through the server (vCenter's Create) and returns its Unique Identifier. */
export async function createKey(t: { host: string; port: number; servername: string; ca: string; cert: string; key: string }): Promise<string> {
  const { KmipClient } = await import('../lib/kmip-client');
  const { vcenter } = await import('@keywarden/kmip');
  const c = await KmipClient.connect({ host: t.host, port: t.port, servername: t.servername, ca: t.ca, cert: t.cert, key: t.key });
  try {
    const r = await c.send(vcenter.create(1));
    const item = r.batchItems[0];
    if (item.resultStatus !== 0) throw new Error(`Create failed: ${item.resultMessage ?? item.resultReason}`);
    return item.payload.uniqueIdentifier as string;
  } finally {
    await c.close();
  }
}

if (require.main === module) {
  cli().catch((e: unknown) => {
    process.stderr.write(`loadgen: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
