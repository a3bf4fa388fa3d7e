// One component of a stack run as a child process: a service's dist/main.js,
// a redis-server or a Sentinel. It knows its name, role, ports and log, says
// when it is ready, and tells its owner when it exits without being asked to
// (the launcher then stops the stack, or restarts the component).
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import net from 'net';
import path from 'path';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ChildSpec {
  /** Unique in the stack: "kmip-gateway", "key-lifecycle-2", "redis-1", "sentinel-3". */
  name: string;
  /** What it is: the service (kmip-gateway, key-lifecycle, crk-wrapping, admin-console, keyprotect-emulator), redis or sentinel. */
  role: string;
  command: string;
  /** Arguments; a function so a restart can change them (a Redis node that rejoins as a replica). */
  args: string[] | (() => string[]);
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Where the program writes its own log when not on stdout (redis --logfile); default logFile. */
  ownLog?: string;
  /** Output on this process's terminal instead of logFile (npm start --verbose). */
  inheritOutput?: boolean;
  /** Ports it listens on, by purpose (kmip, grpc, health, metrics, http, redis). */
  ports: Record<string, number>;
  /** True once it serves. */
  ready(): Promise<boolean>;
  readyTimeoutMs?: number;
  /** Some programs refuse a first SIGTERM (Redis writing its first AOF after a sync): ask this many times, a second apart. */
  termAttempts?: number;
}

export class ChildProc {
  child?: ChildProcess;
  /** Set when the exit was asked for: stop() or kill() by the owner. */
  private expected = false;
  /** Called when the process exits without stop() (killed by someone else, or crashed). */
  onUnexpectedExit?: (c: ChildProc, code: number | null, signal: NodeJS.Signals | null) => void;
  startedAt = 0;

  constructor(readonly spec: ChildSpec) {}

  get name(): string { return this.spec.name; }
  get role(): string { return this.spec.role; }
  get ports(): Record<string, number> { return this.spec.ports; }
  get pid(): number | undefined { return this.alive ? this.child?.pid : undefined; }
  get alive(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  /** Spawns the process and waits until ready() says so; throws with its last log line when it exits first or takes too long. */
  async start(): Promise<void> {
    if (this.alive) return;
    const s = this.spec;
    fs.mkdirSync(path.dirname(s.logFile), { recursive: true });
    const fd = s.inheritOutput ? undefined : fs.openSync(s.logFile, 'a');
    // Its own process group: a Ctrl-C on the terminal reaches the launcher only,
    // which then stops the components in order (gateways first, Redis last).
    const child = spawn(s.command, typeof s.args === 'function' ? s.args() : s.args, {
      env: s.env ?? process.env, detached: true,
      stdio: ['ignore', fd ?? 'inherit', fd ?? 'inherit'],
    });
    if (fd !== undefined) fs.closeSync(fd);
    this.child = child;
    this.expected = false;
    this.startedAt = Date.now();
    let spawnError: Error | undefined;
    child.once('error', (e) => { spawnError = e; });
    child.once('exit', (code, signal) => {
      if (!this.expected && this.child === child) this.onUnexpectedExit?.(this, code, signal);
    });
    const timeoutMs = s.readyTimeoutMs ?? 20_000;
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`${s.name}: cannot run ${s.command}: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        const why = this.lastLine();
        throw new StartError(this, `${s.name} exited (${child.signalCode ?? child.exitCode})${why ? `: ${why}` : ''}; see ${this.logPath}`, why);
      }
      // Ready, and every port of it held by this very process: another program (or another
      // stack starting at the same moment) that answers on a port must not pass for it.
      if (await s.ready().catch(() => false) && Object.values(s.ports).every((p) => listensOn(child.pid as number, p))) return;
      if (Date.now() > end) {
        await this.stop(2000);
        throw new StartError(this, `${s.name} did not become ready within ${timeoutMs / 1000} s; see ${this.logPath}`, this.lastLine());
      }
      await sleep(100);
    }
  }

  /** The file where its last words are. */
  get logPath(): string { return this.spec.ownLog ?? this.spec.logFile; }

  /** Sends a signal as an operator would: an unexpected exit for the owner (kill -9 in a fault test). */
  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child!.kill(sig);
  }

  /** Kills it on purpose (no unexpected-exit report) and waits for the exit: a crash the owner caused, e.g. Redis killed with SIGKILL. */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    this.expected = true;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(sig);
    await gone;
  }

  /** SIGTERM (repeated termAttempts times), then SIGKILL after graceMs; resolves once it has exited. */
  async stop(graceMs = 15_000): Promise<void> {
    const c = this.child;
    this.expected = true;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    const attempts = this.spec.termAttempts ?? 1;
    const end = Date.now() + graceMs;
    for (let i = 0; i < attempts; i++) {
      c.kill('SIGTERM');
      const wait = i === attempts - 1 ? Math.max(0, end - Date.now()) : Math.min(1000, Math.max(0, end - Date.now()));
      let timer: NodeJS.Timeout | undefined;
      const exitedInTime = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), wait); })]);
      clearTimeout(timer);
      if (exitedInTime) return;
    }
    c.kill('SIGKILL');
    await gone;
  }

  /** The last line it logged (its fatal error, when it exited at start), the message only for JSON logs. */
  lastLine(): string {
    return lastLogLine(this.logPath);
  }
}

/** A component that did not come up; `why` is its last log line. */
export class StartError extends Error {
  constructor(readonly component: ChildProc, message: string, readonly why: string) {
    super(message);
  }
}

/** The last line of a log file, without JSON noise; '' when there is none. */
export function lastLogLine(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    const last = lines[lines.length - 1] || '';
    try {
      const j = JSON.parse(last) as { err?: { message?: string }; msg?: string };
      return String(j.err?.message ?? j.msg ?? last).slice(0, 300);
    } catch {
      return last.slice(0, 300);
    }
  } catch {
    return '';
  }
}

/**
 * True when process `pid` holds a listening TCP socket on `port` (Linux:
 * /proc/net/tcp{,6} and /proc/<pid>/fd). Where /proc cannot tell, true.
 */
export function listensOn(pid: number, port: number): boolean {
  const inodes = new Set<string>();
  let readable = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
    }
  }
  if (!readable) return true;
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1])) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function tcpReady(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
