// Redis for a stack: one redis-server, or a master with replicas and
// Sentinels. Every node runs AOF with fsync on every write (the durability
// keywarden relies on) and no RDB snapshots. A password goes in a 0600
// configuration file, never on a command line other local users can read.
// Throwaway ones (tests: own free ports and temp directories) and the local
// stack's (fixed ports, data kept in the data directory) are the same code.
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { ChildProc } from './proc';
import { freePort } from './ports';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** The redis-server process (pid, signals, unexpected exits). */
  proc: ChildProc;
  /** SIGKILL, as a crash: no shutdown save, no AOF rewrite. */
  kill9(): Promise<void>;
  /**
   * Starts the server again on the same port and directory (replays the AOF),
   * with `extraArgs` added this time only (e.g. ['--replicaof', host, port]).
   */
  restart(extraArgs?: string[]): Promise<void>;
  /** Stops the server and removes its directory (unless it was given one to keep). */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** AOF with appendfsync always (default true). */
  appendonly?: boolean;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** Default: a free port. */
  port?: number;
  /** Data directory, kept by stop(); default: a temp directory that stop() removes. */
  dir?: string;
  /** requirepass and masterauth, written to confFile (0600). */
  password?: string;
  /** Default <dir>/redis.conf. */
  confFile?: string;
  /** Default <dir>/redis.log. */
  logFile?: string;
  /** Component name and role in a stack (default "redis", "redis"). */
  name?: string;
  role?: string;
}

export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The result of `fn` once it stops throwing; its last error after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** PONG, or -NOAUTH (up, with a password). */
export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH')); });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
}

function writeSecretConf(file: string, lines: string[]): void {
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<TestRedis> {
  const port = opts.port ?? await freePort();
  const own = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'keywarden-redis-'));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const aof = opts.appendonly ?? true;
  const logFile = opts.logFile ?? path.join(dir, 'redis.log');
  let conf: string[] = [];
  if (opts.password !== undefined) {
    const file = opts.confFile ?? path.join(dir, 'redis.conf');
    writeSecretConf(file, [`requirepass ${opts.password}`, `masterauth ${opts.password}`]);
    conf = [file];
  }
  const args = [
    ...conf,
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dir,
    '--save', '',
    '--appendonly', aof ? 'yes' : 'no',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', logFile,
    // Small hashes kept compact, as deploy/k8s/base/redis.yaml does (docs/deployment.md, "Sizing Redis").
    '--hash-max-listpack-entries', '512',
    '--hash-max-listpack-value', '1024',
    ...(opts.args ?? []),
  ];
  let extra: string[] = [];
  const proc = new ChildProc({
    name: opts.name ?? 'redis', role: opts.role ?? 'redis', command: 'redis-server', args: () => [...args, ...extra],
    logFile, ports: { redis: port }, ready: () => redisPing(port), readyTimeoutMs: 10_000,
    // Redis ignores SIGTERM while it writes its first AOF after a replica
    // sync ("Writing initial AOF, can't exit"): ask again, then kill.
    termAttempts: 5,
  });
  await proc.start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    proc,
    kill9: () => proc.kill('SIGKILL'),
    restart: async (extraArgs?: string[]) => {
      await proc.stop(5000);
      extra = extraArgs ?? [];
      await proc.start();
    },
    stop: async () => {
      await proc.stop(5000);
      if (own) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type RespValue = string | number | null | Error | RespValue[];

/** Parses one RESP2 reply at `i`; undefined while incomplete. */
function parseResp(buf: Buffer, i = 0): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return undefined;
  const line = buf.subarray(i + 1, eol).toString();
  switch (String.fromCharCode(buf[i])) {
    case '+': return { value: line, end: eol + 2 };
    case '-': return { value: new Error(line), end: eol + 2 };
    case ':': return { value: Number(line), end: eol + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 4 + n) return undefined;
      return { value: buf.subarray(eol + 2, eol + 2 + n).toString(), end: eol + 4 + n };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespValue[] = [];
      let at = eol + 2;
      for (let k = 0; k < n; k++) {
        const r = parseResp(buf, at);
        if (!r) return undefined;
        items.push(r.value);
        at = r.end;
      }
      return { value: items, end: at };
    }
    default: throw new Error(`unexpected RESP reply: ${JSON.stringify(buf.subarray(i, i + 40).toString())}`);
  }
}

/**
 * One command on a connection of its own (AUTH first when a password is
 * given), for code that talks to Redis or a Sentinel without a client
 * library. Resolves to the reply; an error reply becomes an Error value.
 */
export function redisCommand(port: number, args: Array<string | number>, opts: { password?: string; timeoutMs?: number } = {}): Promise<RespValue> {
  const encode = (a: Array<string | number>) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join('')}`;
  const cmds = [...(opts.password !== undefined ? [['AUTH', opts.password]] : []), args];
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    sock.setTimeout(opts.timeoutMs ?? 2000, () => { sock.destroy(); reject(new Error(`redis ${port}: ${args[0]} timed out`)); });
    sock.once('error', reject);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const replies: RespValue[] = [];
      let at = 0;
      try {
        for (let k = 0; k < cmds.length; k++) {
          const r = parseResp(buf, at);
          if (!r) return;
          replies.push(r.value);
          at = r.end;
        }
      } catch (e) {
        sock.destroy();
        reject(e);
        return;
      }
      sock.destroy();
      const auth = opts.password !== undefined ? replies[0] : undefined;
      if (auth instanceof Error) reject(auth);
      else resolve(replies[replies.length - 1]);
    });
    sock.once('connect', () => sock.write(cmds.map(encode).join('')));
  });
}
