import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';

// A throwaway redis-server for one test suite: its own free port and temp
// directory, AOF with fsync on every write (the durability keywarden relies
// on), and no RDB snapshots. Never touches the machine's own Redis.

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL, as a crash: no shutdown save, no AOF rewrite. */
  kill9(): Promise<void>;
  /**
   * Starts the server again on the same port and directory (replays the AOF),
   * with `extraArgs` added this time only (e.g. ['--replicaof', host, port]).
   */
  restart(extraArgs?: string[]): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** AOF with appendfsync always (default true). */
  appendonly?: boolean;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    // -NOAUTH: up, with a password.
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH')); });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
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

/** Resolves true once the process has exited, false after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.off('exit', onExit); resolve(false); }, ms);
    const onExit = () => { clearTimeout(timer); resolve(true); };
    child.once('exit', onExit);
  });
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keywarden-redis-'));
  const aof = opts.appendonly ?? true;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', aof ? 'yes' : 'no',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', path.join(dir, 'redis.log'),
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;

  const launch = async (extraArgs: string[] = []) => {
    const c = spawn('redis-server', [...args, ...extraArgs], { stdio: 'ignore' });
    child = c;
    let failed: Error | undefined;
    c.once('error', (e) => { failed = e; });
    c.once('exit', (code, sig) => { if (code !== null || sig) failed ??= new Error(`redis-server exited (${code ?? sig}); see ${dir}/redis.log`); });
    await waitFor(async () => {
      if (failed) throw failed;
      return ping(port);
    }, 10_000, `redis-server on port ${port}`);
  };

  const halt = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c) return;
    // Redis ignores SIGTERM while it writes its first AOF after a replica
    // sync ("Writing initial AOF, can't exit"): ask again, then kill.
    for (let i = 0; i < 5; i++) {
      c.kill(signal);
      if (await exited(c, 1000)) return;
    }
    c.kill('SIGKILL');
    await exited(c, 5000);
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill9: () => halt('SIGKILL'),
    restart: async (extraArgs?: string[]) => {
      await halt('SIGTERM');
      await launch(extraArgs);
    },
    stop: async () => {
      await halt('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
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
 * given), for tests that talk to Redis or a Sentinel without a client
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
