// Faults under load on the regional HA stack (`npm start -- --ha`, through
// the stack launcher): one KMIP client that, like vCenter with a KMS cluster
// of two servers, sends a request to the other server when its connection to
// one fails, runs Create + Get at a steady rate while, in turn, one gateway,
// one key-lifecycle, one crk-wrapping and the Redis master are killed with
// SIGKILL (pids from stack.json, as an operator would), and the emulator is
// stopped for a while and started again. For each fault: acknowledged
// Creates lost (every acknowledged uid is fetched at the end and compared
// with the bytes its first Get returned), requests failed, the longest gap
// without a success and the time until the rate is back.
// Used by test/faults/ha.test.ts (short faults) and bench-ha.ts (the full 20 s outage).
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { RequestMessage, ResponseMessage, ResultStatus, vcenter } from '@keywarden/kmip';
import type { ComponentRecord, Stack, StackState } from '@keywarden/stack';
import { KmipClient } from '../lib/kmip-client';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

export interface KmipCredentials {
  ca: string;
  cert: string;
  key: string;
}

/** The dev PKI of a stack's data directory: the KMIP CA and the test vCenter's certificate. */
export function stackCredentials(dataDir: string): KmipCredentials {
  const read = (f: string) => fs.readFileSync(path.join(dataDir, 'pki', f), 'utf8');
  return { ca: read('ca.crt'), cert: read('client.crt'), key: read('client.key') };
}

/**
 * A KMIP client of a KMS cluster: one connection at a time; a request whose
 * connection fails, or that gets no answer within `timeoutMs`, is sent to the
 * next server (vCenter does the same with the servers of a KMS cluster). A
 * KMIP failure answer is an answer: it is returned, not retried.
 */
export class ClusterClient {
  private conn?: KmipClient;
  private at = 0;
  /** Moves to another server. */
  switches = 0;

  constructor(private readonly ports: number[], private readonly creds: KmipCredentials, private readonly timeoutMs = 12_000) {}

  async send(m: RequestMessage): Promise<ResponseMessage> {
    let last: unknown;
    for (let tries = 0; tries < this.ports.length; tries++) {
      try {
        this.conn ??= await withTimeout(KmipClient.connect({ port: this.ports[this.at], ...this.creds }), 3000, 'connect');
        return await withTimeout(this.conn.send(m), this.timeoutMs, 'request');
      } catch (e) {
        last = e;
        this.conn?.socket.destroy();
        this.conn = undefined;
        this.at = (this.at + 1) % this.ports.length;
        this.switches++;
      }
    }
    throw last;
  }

  close(): void {
    this.conn?.socket.destroy();
    this.conn = undefined;
  }
}

interface Sample {
  /** Completion time, ms since the run started. */
  t: number;
  op: 'create' | 'get';
  ok: boolean;
  ms: number;
}

export interface FaultReport {
  fault: string;
  /** Creates acknowledged from the fault until the next one. */
  acknowledged: number;
  /** Of those, not served afterwards with the bytes first read (must be 0). */
  lost: number;
  /** Operations (Create or Get) that failed from the fault until the next one. */
  failed: number;
  /** Longest time without a successful operation around the fault, ms. */
  longestGapMs: number;
  /** From the fault (the provider's return, for an outage) until a second at the usual rate, ms; undefined: not back. */
  backAfterMs?: number;
  /** Provider outage only: Gets of keys fetched in the last 30 s, served / tried while it was down. */
  cachedGets?: { served: number; tried: number };
  /** Slowest failed operation, ms: a failure comes as an answer, not a hang. */
  slowestFailureMs: number;
}

export interface FaultRunOptions {
  /** Create + Get pairs per second (default 5). */
  rate?: number;
  /** Load before the first fault, for the usual rate (default 3000). */
  baselineMs?: number;
  /** Observation after each kill (default 8000). */
  observeMs?: number;
  /** How long the provider stays down (default 20000). */
  outageMs?: number;
  /** Faults to run, by name (default all). */
  only?: string[];
  log?: (line: string) => void;
}

/** A component's pid as stack.json records it. */
export function recordedPid(stack: Stack, name: string): number {
  const st = JSON.parse(fs.readFileSync(stack.statePath, 'utf8')) as StackState;
  const c = (st.components ?? []).find((x: ComponentRecord) => x.name === name);
  if (!c?.pid) throw new Error(`stack.json records no running ${name}`);
  return c.pid;
}

/** Waits until every component runs, the Sentinels know the master and its replica, and the stack serves again. */
async function waitWhole(stack: Stack): Promise<void> {
  const end = Date.now() + 60_000;
  while (!stack.components.every((c) => c.alive)) {
    if (Date.now() > end) throw new Error(`not every component came back: ${stack.components.filter((c) => !c.alive).map((c) => c.name).join(', ')}`);
    await sleep(200);
  }
  await stack.sentinel?.waitReady(60_000);
}

export async function runFaults(stack: Stack, o: FaultRunOptions = {}): Promise<{ reports: FaultReport[]; baselineRate: number; total: number }> {
  const rate = o.rate ?? 5;
  const baselineMs = o.baselineMs ?? 3000;
  const observeMs = o.observeMs ?? 8000;
  const outageMs = o.outageMs ?? 20_000;
  const log = o.log ?? (() => undefined);
  const client = new ClusterClient(stack.kmipPorts, stackCredentials(stack.dataDir));
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const samples: Sample[] = [];
  /** uid -> fault (phase) it was acknowledged in, and the SHA-256 of its first Get. */
  const acked = new Map<string, { phase: string; sha?: string }>();
  const fetchedAt = new Map<string, number>();
  let phase = 'baseline';
  let outage: { start: number; served: number; tried: number } | undefined;
  let running = true;
  let id = 0;

  const op = async (kind: 'create' | 'get', m: RequestMessage): Promise<ResponseMessage['batchItems'][number] | undefined> => {
    const s = now();
    let item: ResponseMessage['batchItems'][number] | undefined;
    try {
      item = (await client.send(m)).batchItems[0];
    } catch {
      item = undefined;
    }
    const ok = item?.resultStatus === ResultStatus.Success;
    samples.push({ t: now(), op: kind, ok, ms: now() - s });
    return ok ? item : undefined;
  };
  const get = async (uid: string) => {
    const r = await op('get', vcenter.get(++id, uid));
    if (!r) return false;
    const sha = createHash('sha256').update(Buffer.from(r.payload.object.keyBlock.keyMaterial)).digest('hex');
    const rec = acked.get(uid);
    if (rec && rec.sha === undefined) rec.sha = sha;
    fetchedAt.set(uid, Date.now());
    return true;
  };
  /** Keys fetched in the last 25 s (within the 30 s cache bound), newest first. */
  const recent = () => [...fetchedAt].filter(([, t]) => Date.now() - t < 25_000).sort((a, b) => b[1] - a[1]).map(([u]) => u);

  const load = (async () => {
    let next = Date.now();
    let k = 0;
    while (running) {
      next += 1000 / rate;
      const created = await op('create', vcenter.create(++id));
      const uid = created?.payload.uniqueIdentifier as string | undefined;
      if (uid) {
        acked.set(uid, { phase });
        await get(uid);
      } else {
        // No new key: a Get of one fetched lately, which the key cache may serve.
        const hot = recent();
        if (hot.length > 0) {
          const ok = await get(hot[k++ % Math.min(hot.length, 5)]);
          if (outage) {
            outage.tried++;
            if (ok) outage.served++;
          }
        }
      }
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now();
    }
  })();

  const reports: FaultReport[] = [];
  try {
    await sleep(baselineMs);
    const base = samples.filter((s) => s.ok);
    const baselineRate = base.length / (baselineMs / 1000);
    if (baselineRate === 0) throw new Error(`the stack served nothing before any fault; see the logs in ${stack.logDir}`);
    log(`baseline: ${baselineRate.toFixed(1)} successful operations/s (${rate} Create + Get pairs/s asked)`);
    const kill = (name: () => Promise<string>) => async () => {
      const n = await name();
      process.kill(recordedPid(stack, n), 'SIGKILL');
      return n;
    };
    const redisMaster = async () => {
      const port = await stack.sentinel!.masterPort();
      const c = stack.components.find((x) => x.role === 'redis' && x.ports.redis === port);
      if (!c) throw new Error('no Redis master named by the Sentinels');
      return c.name;
    };
    const faults: Array<{ name: string; run: () => Promise<string>; outage?: boolean }> = [
      { name: 'kill -9 one kmip-gateway (the one the client uses)', run: kill(async () => 'kmip-gateway-1') },
      { name: 'kill -9 one key-lifecycle', run: kill(async () => 'key-lifecycle-1') },
      { name: 'kill -9 one crk-wrapping', run: kill(async () => 'crk-wrapping-1') },
      { name: 'kill -9 the Redis master (Sentinel promotes the replica)', run: kill(redisMaster) },
      {
        name: `emulator stopped ${Math.round(outageMs / 1000)} s, then started`, outage: true,
        run: async () => {
          // Keys fetched just before, once per replica or more: what the cache has to serve.
          for (const uid of recent().slice(0, 5)) for (let i = 0; i < 4; i++) await get(uid);
          await stack.pause('keyprotect-emulator');
          return 'keyprotect-emulator';
        },
      },
    ];
    for (const f of faults.filter((x) => !o.only || o.only.some((n) => x.name.startsWith(n)))) {
      await waitWhole(stack);
      await sleep(1000);
      phase = f.name;
      const from = now();
      const what = await f.run();
      log(`${f.name}: ${what} at t=${(from / 1000).toFixed(1)} s`);
      let backFrom = from;
      if (f.outage) {
        outage = { start: from, served: 0, tried: 0 };
        await sleep(outageMs);
        await stack.resume('keyprotect-emulator');
        backFrom = now();
      }
      const cached = outage ? { served: outage.served, tried: outage.tried } : undefined;
      outage = undefined;
      await sleep(observeMs);
      const to = now();
      reports.push({ fault: f.name, ...measure(samples, from, to, backFrom, baselineRate), acknowledged: 0, lost: 0, cachedGets: cached });
    }
    running = false;
    await load;

    // Every acknowledged Create, fetched again: the same bytes, or lost.
    for (const [uid, rec] of acked) {
      const r = reports.find((x) => x.fault === rec.phase);
      if (r) r.acknowledged++;
      let sha: string | undefined;
      for (let attempt = 0; attempt < 3 && sha === undefined; attempt++) {
        const item = await client.send(vcenter.get(++id, uid)).then((m) => m.batchItems[0], () => undefined);
        if (item?.resultStatus === ResultStatus.Success) sha = createHash('sha256').update(Buffer.from(item.payload.object.keyBlock.keyMaterial)).digest('hex');
        else await sleep(500);
      }
      if (sha === undefined || (rec.sha !== undefined && rec.sha !== sha)) {
        if (r) r.lost++;
        else throw new Error(`a key acknowledged during the ${rec.phase} is lost`);
      }
    }
    return { reports, baselineRate, total: acked.size };
  } finally {
    running = false;
    await load;
    client.close();
  }
}

/** Failures, the longest gap without a success, and when a whole second went at the usual rate again. */
function measure(samples: Sample[], from: number, to: number, backFrom: number, baselineRate: number): Pick<FaultReport, 'failed' | 'longestGapMs' | 'backAfterMs' | 'slowestFailureMs'> {
  const inWindow = samples.filter((s) => s.t >= from && s.t <= to);
  const ok = samples.filter((s) => s.ok && s.t <= to);
  let lastBefore = [...ok].reverse().find((s) => s.t < from)?.t ?? from;
  let longest = 0;
  for (const s of ok.filter((x) => x.t >= from)) {
    longest = Math.max(longest, s.t - lastBefore);
    lastBefore = s.t;
  }
  longest = Math.max(longest, to - lastBefore);
  // Back: the first one-second window, from the fault on, with no failure and at least 80 % of the usual successes.
  let backAfterMs: number | undefined;
  const need = 0.8 * baselineRate;
  for (const s of samples.filter((x) => x.t >= backFrom && x.t + 1000 <= to)) {
    const win = samples.filter((x) => x.t >= s.t && x.t < s.t + 1000);
    if (win.every((x) => x.ok) && win.length >= need) {
      backAfterMs = Math.max(0, s.t - backFrom);
      break;
    }
  }
  const failures = inWindow.filter((s) => !s.ok);
  return { failed: failures.length, longestGapMs: longest, backAfterMs, slowestFailureMs: Math.max(0, ...failures.map((s) => s.ms)) };
}

/** The fault table (markdown), as docs/operations.md shows it. */
export function faultTable(reports: FaultReport[]): string {
  const rows = reports.map((r) => `| ${r.fault} | ${r.acknowledged} | ${r.lost} | ${r.failed} | ${(r.longestGapMs / 1000).toFixed(1)} s | ` +
    `${r.backAfterMs === undefined ? 'not back' : `${(r.backAfterMs / 1000).toFixed(1)} s`} | ` +
    `${r.cachedGets ? `${r.cachedGets.served} of ${r.cachedGets.tried}` : '–'} |`);
  return ['| fault | Creates acknowledged | lost | requests failed | longest gap without a success | rate back after | cached Gets served during the outage |',
    '| --- | --: | --: | --: | --: | --: | --: |', ...rows].join('\n');
}
