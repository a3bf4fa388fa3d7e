// Process plumbing for the benchmarks: temp directories and child processes
// that are removed / killed when the benchmark exits (normally, on error or
// on Ctrl-C), a throwaway PKI, and the perf server processes of server.ts.
import { ChildProcess, fork, spawn, spawnSync, SpawnOptions } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ensureDevPki } from '@keywarden/common';
import { processCpuSeconds, processRss } from './stats';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const cleanups: Array<() => void> = [];

function cleanupNow(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGKILL'); } catch { /* gone */ }
    }
  }
  children.clear();
  for (const f of cleanups.splice(0)) {
    try { f(); } catch { /* best effort */ }
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { cleanupNow(); process.exit(130); });
  }
}

/** Runs fn when the benchmark exits. */
export function atExit(fn: () => void): void {
  hook();
  cleanups.push(fn);
}

export function tempDir(prefix: string): string {
  hook();
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `keywarden-${prefix}-`));
  dirs.add(d);
  return d;
}

export function removeDir(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

export function track(c: ChildProcess): ChildProcess {
  hook();
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** Spawns a tracked child process with output to a log file. */
export function spawnLogged(cmd: string, args: string[], logFile: string, o: SpawnOptions = {}): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  const c = spawn(cmd, args, { ...o, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return track(c);
}

export function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after graceMs. */
export async function stopChild(c: ChildProcess, graceMs = 3000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited(c);
  clearTimeout(t);
}

export interface BenchPki {
  /** KMIP side: ca.crt (the KMIP CA), server.crt/.key, client.crt/.key. */
  dir: string;
  /** Internal side: ca.crt (the internal CA) and one certificate per service role, admin (operator) included. */
  internalDir: string;
  ca: string;
  clientCert: string;
  clientKey: string;
}

/** A throwaway CA, localhost server certificate, client and internal service certificates. */
export function benchPki(dir = tempDir('pki')): BenchPki {
  const { internalDir } = ensureDevPki(dir);
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  return { dir, internalDir, ca: read('ca.crt'), clientCert: read('client.crt'), clientKey: read('client.key') };
}

export type ServerKind = 'stub-gateway' | 'echo' | 'canned';

export interface PerfServer {
  kind: ServerKind;
  pid: number;
  port: number;
  cpuSeconds(): number;
  rss(): number;
  /** process.memoryUsage() of the server, after a GC when started with exposeGc. */
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

export async function startServer(kind: ServerKind, pki: BenchPki, o: { exposeGc?: boolean; logFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<PerfServer> {
  const logFile = o.logFile ?? path.join(pki.dir, `${kind}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = track(fork(path.join(__dirname, 'server.js'), [kind], {
    execArgv: o.exposeGc ? ['--expose-gc'] : [],
    env: { ...process.env, PERF_PKI: pki.dir, PERF_PORT: '0', ...o.env },
    stdio: ['ignore', fd, fd, 'ipc'],
  }));
  fs.closeSync(fd);
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${kind} server exited (${code}); see ${logFile}: ${fs.readFileSync(logFile, 'utf8').slice(-500)}`));
    child.once('exit', onExit);
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'listening') { child.off('exit', onExit); resolve(m.port as number); }
    });
  });
  const pid = child.pid as number;
  return {
    kind, pid, port,
    cpuSeconds: () => processCpuSeconds(pid),
    rss: () => processRss(pid),
    memoryUsage: () => new Promise((resolve) => {
      const on = (m: { type: string; mem?: NodeJS.MemoryUsage }) => {
        if (m.type === 'mem') { child.off('message', on); resolve(m.mem as NodeJS.MemoryUsage); }
      };
      child.on('message', on);
      child.send({ type: 'mem' });
    }),
    stop: async () => {
      child.disconnect();
      await stopChild(child);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Machine facts printed at the top of every benchmark. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${new Date().toISOString().slice(0, 10)} · node ${process.version} · ${cpus.length} cores (${cpus[0]?.model ?? '?'}) · load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/** Connection settings for the load generator against a local server, with the PKI's client certificate. */
export function target(pki: BenchPki, port: number): { host: string; port: number; servername: string; ca: string; cert: string; key: string } {
  return { host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
}

/** Seconds from an environment variable (benchmarks can be shortened or lengthened). */
export function envSeconds(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** Soft and hard limits on open files of this process. */
export function fileLimits(): { soft: number; hard: number } {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft, hard };
}

/**
 * Makes sure this process (and so its children) may open `need` files: when
 * the soft limit is lower and the hard limit allows, runs this script again
 * under `prlimit --nofile` and exits with its status. Returns when the limit is fine.
 */
export function ensureFileLimit(need: number): void {
  const { soft, hard } = fileLimits();
  if (soft >= need) return;
  if (hard < need || process.env.KEYWARDEN_PRLIMIT === '1') {
    throw new Error(`this benchmark needs ${need} open files; the limit is ${soft} (hard ${hard}): raise it (ulimit -n) and run again`);
  }
  const n = Number.isFinite(hard) ? hard : need;
  const r = spawnSync('prlimit', [`--nofile=${n}:${n}`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...process.env, KEYWARDEN_PRLIMIT: '1' },
  });
  process.exit(r.status ?? 1);
}
