// The kmip-gateway as its own process (dist/main.js, configured through its
// environment) in front of a test stack's key-lifecycle, so a test can count
// the gateway's own file descriptors and memory from /proc and stop it with a
// signal. Run `npm run build` (or `npx tsc -b services/kmip-gateway`) first.
// KMIP_GATEWAY_MAIN=<path to a main.js> runs another build instead (to check
// that a test fails on an older gateway).
import { ChildProcess, fork } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { TestStack, TestTenant, freePort, startStack } from '../../../test/lib';

const MAIN = process.env.KMIP_GATEWAY_MAIN ?? path.join(__dirname, '../dist/main.js');
const PROBE = path.join(__dirname, 'gateway-probe.cjs');

export interface GatewayProcess {
  pid: number;
  port: number;
  metricsPort: number;
  child: ChildProcess;
  logFile: string;
  /** Open file descriptors of the gateway process. */
  fds(): number;
  /** Resident set size of the gateway process, bytes. */
  rss(): number;
  /** CPU time the gateway process has used, seconds. */
  cpuSeconds(): number;
  /** The gateway's process.memoryUsage() after a full garbage collection. */
  memory(): Promise<NodeJS.MemoryUsage>;
  /** The gateway's Prometheus text. */
  metrics(): Promise<string>;
  /** One sample of a metric (first match of `name{...labels}`), 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after killAfterMs; resolves when the process is gone. */
  stop(killAfterMs?: number): Promise<void>;
}

function readTlsDir(stack: TestStack): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-gw-proc-'));
  const w = (f: string, v: string | Buffer) => fs.writeFileSync(path.join(dir, f), v, { mode: 0o600 });
  w('server.crt', stack.pki.server.cert);
  w('server.key', stack.pki.server.key);
  w('ca.crt', stack.pki.internalCa.cert);
  w('kmip-gateway.crt', stack.pki.gateway.cert);
  w('kmip-gateway.key', stack.pki.gateway.key);
  return dir;
}

async function waitForPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`kmip-gateway exited (${child.exitCode ?? child.signalCode}): ${fs.readFileSync(logFile, 'utf8').slice(-800)}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > end) throw new Error(`kmip-gateway did not listen on ${port}: ${fs.readFileSync(logFile, 'utf8').slice(-800)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts dist/main.js with `env` added to the settings that point it at the stack. */
export async function startGatewayProcess(stack: TestStack, env: Record<string, string> = {}): Promise<GatewayProcess> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const dir = readTlsDir(stack);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const logFile = path.join(dir, 'kmip-gateway.log');
  const fd = fs.openSync(logFile, 'a');
  const child = fork(MAIN, [], {
    execArgv: ['--expose-gc', '--require', PROBE],
    env: {
      ...process.env,
      KMIP_PORT: String(port), KMIP_HOST: '127.0.0.1', GATEWAY_TLS_DIR: dir,
      LIFECYCLE_ADDR: `localhost:${stack.lifecyclePort}`, METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1', HEALTH_ADDR: '127.0.0.1:0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      ...env,
    },
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  fs.closeSync(fd);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  void exited.then(() => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));
  try {
    await waitForPort(port, child, logFile);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const pid = child.pid as number;
  const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return {
    pid, port, metricsPort, child, logFile, exited, metrics,
    fds: () => fs.readdirSync(`/proc/${pid}/fd`).length,
    rss: () => {
      const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
      return Number(line.replace(/\D+/g, '')) * 1024;
    },
    cpuSeconds: () => {
      // utime and stime, fields 14 and 15 of /proc/<pid>/stat (after the parenthesised command name).
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    memory: () => new Promise((resolve, reject) => {
      const on = (m: { type?: string; mem?: NodeJS.MemoryUsage }) => {
        if (m?.type !== 'mem') return;
        child.off('message', on);
        clearTimeout(t);
        resolve(m.mem as NodeJS.MemoryUsage);
      };
      const t = setTimeout(() => { child.off('message', on); reject(new Error('the gateway did not report its memory')); }, 10_000);
      child.on('message', on);
      child.send({ type: 'mem' });
    }),
    metric: async (name, labels = {}) => {
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of (await metrics()).split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (want.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return 0;
    },
    stop: async (killAfterMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface GatewaySuite {
  readonly stack: TestStack;
  /** One tenant with a registered client certificate. */
  readonly tenant: TestTenant;
  readonly gw: GatewayProcess;
}

/**
 * For a whole test file: a test stack, one tenant, and a gateway process in
 * front of it with `env` (started in beforeAll, stopped in afterAll). The
 * fields are set once beforeAll has run.
 */
export function gatewayProcessSuite(env: Record<string, string> = {}): GatewaySuite {
  const s = {} as { stack: TestStack; tenant: TestTenant; gw: GatewayProcess };
  beforeAll(async () => {
    s.stack = await startStack();
    s.tenant = await s.stack.createTenant();
    s.gw = await startGatewayProcess(s.stack, env);
  }, 60_000);
  afterAll(async () => {
    await s.gw?.stop();
    await s.stack?.close();
  }, 30_000);
  return s;
}
