// The full stack as separate processes in the configuration `npm start` runs:
// the stack launcher (libs/stack) on a throwaway data directory with the
// benchmark's PKI, free ports, no console. Redis (AOF, appendfsync always,
// password), the Key Protect emulator (API key, persisting to the data
// directory), crk-wrapping, key-lifecycle and kmip-gateway, each from its
// dist/main.js, mTLS between the services. Then one tenant "bench" whose
// vCenter certificate is the PKI's client.crt.
import { ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { Stack } from '@keywarden/stack';
import { freePort } from '../lib/redis';

export { freePort };
import { BenchPki, atExit, sleep } from './proc';
import { processCpuSeconds } from './stats';

export async function waitForPort(port: number, child: ChildProcess, what: string, log: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}); see ${log}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} on port ${port}; see ${log}`);
    await sleep(100);
  }
}

export interface StackProcesses {
  kmipPort: number;
  /** Process ids by name, for CPU accounting (redis included). */
  pids: Record<string, number>;
  cpuSeconds(): Record<string, number>;
  stop(): Promise<void>;
}

/**
 * `env` is added to every service's environment (e.g. LIFECYCLE_CACHE_TTL_MS
 * for the strict variant). The stack's state goes to dataDir; the PKI is the
 * benchmark's (pki.dir becomes dataDir/pki).
 */
export async function startStackProcesses(pki: BenchPki, dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<StackProcesses> {
  fs.mkdirSync(dataDir, { recursive: true });
  if (path.resolve(pki.dir) !== path.resolve(dataDir, 'pki')) fs.cpSync(pki.dir, path.join(dataDir, 'pki'), { recursive: true });
  const stack = new Stack({
    dataDir, persistent: false, kmipPorts: [0], kmipHost: '127.0.0.1', console: false, tenantId: 'bench', env: extraEnv,
    // PERF_CPU_PROF=kmip-gateway,crk-wrapping profiles those services into PERF_CPU_PROF_DIR (node --cpu-prof).
    nodeArgs: (name) => ((process.env.PERF_CPU_PROF ?? '').split(',').includes(name)
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PERF_CPU_PROF_DIR ?? process.cwd()}`] : []),
  });
  // Killed with the benchmark (Ctrl-C, error): the components run in process groups of their own.
  atExit(() => { for (const c of stack.components) c.signal('SIGKILL'); });
  await stack.start();
  const pids = stack.pids();
  return {
    kmipPort: stack.kmipPorts[0], pids,
    cpuSeconds: () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)])),
    stop: () => stack.stop(),
  };
}
