// One load-generator process: opens its share of the connections and drives
// them (see loadgen.ts). Run by loadgen.ts through child_process.fork, or
// in-process (runWorker) for the smoke test.
import tls from 'tls';
import { FrameReader } from '@keywarden/kmip';
import { LoadOp, RequestTemplate, checkEcho, checkResponse, requestTemplate } from './messages';
import { Samples } from './stats';

export interface WorkerConfig {
  host: string;
  port: number;
  servername: string;
  ca: string;
  cert: string;
  key: string;
  ciphers?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** persistent: many requests per connection; fresh: connect, Discover Versions, op, close; hold: connect, Discover Versions, stay open. */
  mode: 'persistent' | 'fresh' | 'hold';
  op: LoadOp;
  /** Unique identifiers to Get, used in turn. */
  uids: string[];
  connections: number;
  /** Run for this long after warm-up (ms); or until `count` operations (persistent) / transactions (fresh) are done. */
  durationMs?: number;
  count?: number;
  warmupMs: number;
  /** Requests in flight per connection (persistent mode). vCenter sends one at a time: 1. */
  depth: number;
  /** kmip: replies must be successful KMIP responses echoing the batch item id; echo: replies must equal the request. */
  expect: 'kmip' | 'echo';
  /** Simultaneous handshakes at most (fresh and hold modes); 0: no limit (a storm). */
  connectConcurrency: number;
  timeoutMs: number;
  /** Worker index, to keep batch item ids apart. */
  index: number;
}

export interface WorkerResult {
  ok: number;
  errors: number;
  /** Distinct error descriptions and how often each occurred. */
  errorKinds: Record<string, number>;
  /** Per-operation latency (persistent) or per-transaction latency (fresh), ms, inside the measured window. */
  latency: Float64Array;
  /** TCP connect start to TLS established, ms (fresh and hold modes). */
  handshake: Float64Array;
  /** First operation sent to last one answered (count mode), or the configured duration. */
  windowMs: number;
  /** CPU this process used while running (user+system seconds). */
  cpuSeconds: number;
  /** Connections open when holding. */
  held?: number;
}

type Pending = { req: Buffer; t0: number; cb: (err: string | undefined, res?: Buffer) => void };

const nowMs = (): number => performance.now();

class Conn {
  readonly socket: tls.TLSSocket;
  private readonly reader = new FrameReader(16 * 1024 * 1024);
  readonly pending: Pending[] = [];
  dead: string | undefined;
  established = false;

  constructor(private readonly cfg: WorkerConfig, ctx: tls.SecureContext, onConnect: (err?: string) => void) {
    this.socket = tls.connect({
      host: cfg.host, port: cfg.port, servername: cfg.servername, secureContext: ctx,
      minVersion: cfg.minVersion, maxVersion: cfg.maxVersion,
    }, () => { this.established = true; onConnect(); });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      let msgs: Buffer[];
      try {
        msgs = this.reader.push(chunk);
      } catch (e) {
        this.fail(`bad frame: ${(e as Error).message}`);
        return;
      }
      for (const m of msgs) {
        const p = this.pending.shift();
        if (!p) { this.fail('unsolicited response'); return; }
        p.cb(this.cfg.expect === 'echo' ? checkEcho(m, p.req) : checkResponse(m, p.req), m);
      }
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!this.established) onConnect(`connect: ${e.code ?? e.message}`);
      this.fail(e.code ?? e.message);
    });
    this.socket.on('close', () => {
      if (!this.established) onConnect('connect: closed during handshake');
      this.fail('connection closed');
    });
  }

  send(req: Buffer, cb: Pending['cb']): void {
    if (this.dead) { cb(this.dead); return; }
    this.pending.push({ req, t0: nowMs(), cb });
    this.socket.write(req);
  }

  fail(why: string): void {
    this.dead ??= why;
    for (const p of this.pending.splice(0)) p.cb(why);
    if (!this.socket.destroyed) this.socket.destroy();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.dead ??= 'closed by client';
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }
}

export class Worker {
  private readonly ctx: tls.SecureContext;
  private readonly templates: RequestTemplate[];
  private readonly discover = requestTemplate('discover');
  private counter = 0;
  private ok = 0;
  private errors = 0;
  private readonly errorKinds: Record<string, number> = {};
  private readonly latency = new Samples();
  private readonly handshake = new Samples();
  private readonly conns = new Set<Conn>();
  private windowStart = 0;
  private windowEnd = Infinity;
  private remaining = Infinity;
  private lastDone = 0;
  private stopping = false;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly cfg: WorkerConfig) {
    this.ctx = tls.createSecureContext({ ca: cfg.ca, cert: cfg.cert, key: cfg.key, ciphers: cfg.ciphers });
    const uids = cfg.uids.length ? cfg.uids : [undefined];
    this.templates = cfg.op === 'get' ? uids.map((u) => requestTemplate('get', u)) : [requestTemplate(cfg.op)];
    this.counter = cfg.index * 0x01000000;
  }

  private nextRequest(): Buffer {
    const n = this.counter++;
    return this.templates[n % this.templates.length].make(n);
  }

  private error(why: string): void {
    this.errors++;
    const k = why.slice(0, 160);
    this.errorKinds[k] = (this.errorKinds[k] ?? 0) + 1;
  }

  private connect(): Promise<Conn | undefined> {
    return new Promise((resolve) => {
      const t0 = nowMs();
      let settled = false;
      const c = new Conn(this.cfg, this.ctx, (err) => {
        if (settled) return;
        settled = true;
        if (err) { this.error(err); this.conns.delete(c); resolve(undefined); return; }
        const t = nowMs();
        if (this.inWindow(t) || this.cfg.count !== undefined) this.handshake.push(t - t0);
        resolve(c);
      });
      this.conns.add(c);
      c.socket.once('close', () => this.conns.delete(c));
    });
  }

  private request(c: Conn, req: Buffer): Promise<string | undefined> {
    return new Promise((resolve) => c.send(req, (err) => resolve(err)));
  }

  private startWatchdog(): void {
    this.watchdog = setInterval(() => {
      const limit = nowMs() - this.cfg.timeoutMs;
      for (const c of this.conns) {
        if (c.pending.length && c.pending[0].t0 < limit) c.fail(`no answer within ${this.cfg.timeoutMs} ms`);
      }
    }, 250);
  }

  /** Persistent mode, before the start signal: opens the connections. */
  async prepare(): Promise<Conn[]> {
    if (this.cfg.mode !== 'persistent') return [];
    const opened = await Promise.all(Array.from({ length: this.cfg.connections }, () => this.connect()));
    this.handshake.length = 0;
    return opened.filter((c): c is Conn => c !== undefined);
  }

  private inWindow(t: number): boolean {
    return t >= this.windowStart && t <= this.windowEnd;
  }

  private takeOne(): boolean {
    if (this.stopping || nowMs() > this.windowEnd) return false;
    if (this.remaining <= 0) return false;
    this.remaining--;
    return true;
  }

  /** Drives one persistent connection with `depth` requests in flight until the run ends. */
  private drive(c: Conn): Promise<void> {
    return new Promise((resolve) => {
      let inflight = 0;
      const issue = () => {
        if (!this.takeOne()) { if (inflight === 0) resolve(); return; }
        inflight++;
        const req = this.nextRequest();
        const t0 = nowMs();
        c.send(req, (err) => {
          inflight--;
          const t = nowMs();
          if (err) this.error(err);
          else if (this.inWindow(t) || this.cfg.count !== undefined) { this.ok++; this.latency.push(t - t0); this.lastDone = t; }
          if (err && c.dead) {
            if (inflight === 0) resolve();
            return;
          }
          issue();
        });
      };
      for (let i = 0; i < this.cfg.depth; i++) issue();
    });
  }

  /** Fresh mode: connect, Discover Versions, the operation, close; again until the run ends. */
  private async freshLoop(): Promise<void> {
    while (this.takeOne()) {
      const t0 = nowMs();
      const c = await this.connect();
      let err: string | undefined = c ? undefined : 'connect failed';
      if (c) {
        err = await this.request(c, this.discover.make(this.counter++));
        if (!err) err = await this.request(c, this.nextRequest());
        await c.close();
      }
      const t = nowMs();
      // A failed connect was counted by connect().
      if (err) { if (c) this.error(err); } else if (this.inWindow(t) || this.cfg.count !== undefined) { this.ok++; this.latency.push(t - t0); this.lastDone = t; }
    }
  }

  /** Runs after the start signal. */
  async run(prepared: Conn[]): Promise<WorkerResult> {
    const cfg = this.cfg;
    const cpu0 = process.cpuUsage();
    const start = nowMs();
    this.windowStart = cfg.count !== undefined ? start : start + cfg.warmupMs;
    if (cfg.durationMs !== undefined) this.windowEnd = this.windowStart + cfg.durationMs;
    if (cfg.count !== undefined) this.remaining = cfg.count;
    this.startWatchdog();
    try {
      if (cfg.mode === 'persistent') {
        await Promise.all(prepared.map((c) => this.drive(c)));
      } else {
        const slots = cfg.connectConcurrency > 0 ? Math.min(cfg.connections, cfg.connectConcurrency) : cfg.connections;
        await Promise.all(Array.from({ length: slots }, () => this.freshLoop()));
      }
    } finally {
      clearInterval(this.watchdog);
    }
    await Promise.all([...this.conns].map((c) => c.close()));
    const cpu = process.cpuUsage(cpu0);
    const windowMs = cfg.count !== undefined ? this.lastDone - start : (cfg.durationMs as number);
    return this.result(windowMs, (cpu.user + cpu.system) / 1e6);
  }

  /** Hold mode: opens the connections (handshake + one Discover Versions each) and keeps them. */
  async hold(): Promise<WorkerResult> {
    const cpu0 = process.cpuUsage();
    const start = nowMs();
    this.startWatchdog();
    const held: Conn[] = [];
    let next = 0;
    const slot = async () => {
      while (next < this.cfg.connections) {
        next++;
        const c = await this.connect();
        if (!c) continue;
        const err = await this.request(c, this.discover.make(this.counter++));
        if (err) { this.error(err); continue; }
        this.ok++;
        held.push(c);
      }
    };
    const slots = this.cfg.connectConcurrency > 0 ? this.cfg.connectConcurrency : this.cfg.connections;
    await Promise.all(Array.from({ length: Math.min(slots, this.cfg.connections) }, slot));
    clearInterval(this.watchdog);
    const cpu = process.cpuUsage(cpu0);
    const r = this.result(nowMs() - start, (cpu.user + cpu.system) / 1e6);
    r.held = held.filter((c) => !c.dead).length;
    return r;
  }

  /** Counts connections that were closed by the server while held. */
  stillHeld(): number {
    let n = 0;
    for (const c of this.conns) if (!c.dead) n++;
    return n;
  }

  async closeAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.conns].map((c) => c.close()));
  }

  private result(windowMs: number, cpuSeconds: number): WorkerResult {
    return {
      ok: this.ok, errors: this.errors, errorKinds: this.errorKinds,
      latency: this.latency.toArray(), handshake: this.handshake.toArray(), windowMs, cpuSeconds,
    };
  }
}

// --- child-process protocol ---------------------------------------------------
// parent → child: {type:'config', cfg} · {type:'go'} · {type:'check'} · {type:'release'}
// child → parent: {type:'ready'} · {type:'result', result} · {type:'held', result} · {type:'checked', held} · {type:'fatal', message}

function childMain(): void {
  let worker: Worker | undefined;
  let prepared: Promise<Conn[]> | undefined;
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: { type: string; cfg?: WorkerConfig }) => {
    void (async () => {
      try {
        if (m.type === 'config' && m.cfg) {
          worker = new Worker(m.cfg);
          prepared = worker.prepare();
          await prepared;
          send({ type: 'ready' });
        } else if (m.type === 'go' && worker && prepared) {
          const w = worker;
          const result = await w.run(await prepared);
          send({ type: 'result', result });
        } else if (m.type === 'hold' && worker) {
          send({ type: 'held', result: await worker.hold() });
        } else if (m.type === 'check' && worker) {
          send({ type: 'checked', held: worker.stillHeld() });
        } else if (m.type === 'release' && worker) {
          await worker.closeAll();
          send({ type: 'released' });
        }
      } catch (e) {
        send({ type: 'fatal', message: (e as Error).stack ?? String(e) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) childMain();
