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
  /** Starts the server again on the same port and directory (replays the AOF). */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** AOF with appendfsync always (default true). */
  appendonly?: boolean;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

function freePort(): Promise<number> {
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
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
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

  const launch = async () => {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
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
    restart: async () => {
      await halt('SIGTERM');
      await launch();
    },
    stop: async () => {
      await halt('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
