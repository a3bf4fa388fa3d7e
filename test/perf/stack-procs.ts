// The full stack as separate processes in the configuration `npm start` runs
// (scripts/lib/local-stack.js): Redis (AOF, appendfsync always), the Key
// Protect emulator (HTTP, persisting to a data directory), crk-wrapping,
// key-lifecycle and kmip-gateway, each from its dist/main.js with the
// environment documented at the top of that file, mTLS between the services
// from a throwaway PKI, no plaintext cache. Own free ports, so it runs next
// to `npm start`. Then one tenant whose vCenter certificate is the PKI's client.crt.
import { ChildProcess } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { channelCredentials, channelOptions, loadTlsFiles } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { TestRedis, freePort, startRedis } from '../lib/redis';

export { freePort };
import { BenchPki, sleep, spawnLogged, stopChild } from './proc';
import { processCpuSeconds } from './stats';

const ROOT = path.resolve(__dirname, '../../..');


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

/** `env` is added to every service's environment (e.g. LIFECYCLE_CACHE_TTL_MS for the cached variant). */
export async function startStackProcesses(pki: BenchPki, logDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<StackProcesses> {
  const children: Array<[string, ChildProcess]> = [];
  let redis: TestRedis | undefined;
  const stop = async () => {
    for (const [, c] of children.reverse()) await stopChild(c, 5000);
    await redis?.stop();
  };
  try {
    redis = await startRedis({ appendonly: true });
    const node = (name: string, script: string, args: string[], env: NodeJS.ProcessEnv) => {
      const log = path.join(logDir, `${name}.log`);
      // PERF_CPU_PROF=kmip-gateway,crk-wrapping profiles those services into PERF_CPU_PROF_DIR (node --cpu-prof).
      const prof = (process.env.PERF_CPU_PROF ?? '').split(',').includes(name)
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PERF_CPU_PROF_DIR ?? process.cwd()}`] : [];
      const c = spawnLogged(process.execPath, [...prof, path.join(ROOT, script), ...args], log, { env: { ...process.env, ...extraEnv, ...env } });
      children.push([name, c]);
      return { c, log };
    };
    const [emuPort, wrapPort, lcPort, kmipPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const instanceId = randomUUID();
    const emu = node('keyprotect-emulator', 'services/keyprotect-emulator/dist/main.js', [
      '--port', String(emuPort), '--host', '127.0.0.1', '--data-dir', path.join(logDir, 'emulator'), '--instance', instanceId,
    ], {});
    await waitForPort(emuPort, emu.c, 'keyprotect-emulator', emu.log);
    const wrap = node('crk-wrapping', 'services/crk-wrapping/dist/main.js', [], {
      WRAPPING_ADDR: `127.0.0.1:${wrapPort}`, WRAPPING_TLS_DIR: pki.internalDir,
      KEYWARDEN_MASTER_KEY: randomBytes(32).toString('base64'), METRICS_PORT: '0', HEALTH_ADDR: '127.0.0.1:0',
      WRAPPING_ALLOW_HTTP: 'true', WRAPPING_PROVIDER_HOSTS: `127.0.0.1:${emuPort}`,
    });
    await waitForPort(wrapPort, wrap.c, 'crk-wrapping', wrap.log);
    const lc = node('key-lifecycle', 'services/key-lifecycle/dist/main.js', [], {
      LIFECYCLE_ADDR: `127.0.0.1:${lcPort}`, LIFECYCLE_TLS_DIR: pki.internalDir, REDIS_URL: redis.url,
      WRAPPING_ADDR: `localhost:${wrapPort}`, METRICS_PORT: '0', HEALTH_ADDR: '127.0.0.1:0',
    });
    await waitForPort(lcPort, lc.c, 'key-lifecycle', lc.log);
    const gw = node('kmip-gateway', 'services/kmip-gateway/dist/main.js', [], {
      KMIP_PORT: String(kmipPort), KMIP_HOST: '127.0.0.1', GATEWAY_TLS_DIR: pki.dir, GATEWAY_INTERNAL_TLS_DIR: pki.internalDir,
      LIFECYCLE_ADDR: `localhost:${lcPort}`, METRICS_PORT: '0', HEALTH_ADDR: '127.0.0.1:0',
    });
    await waitForPort(kmipPort, gw.c, 'kmip-gateway', gw.log);

    // One tenant with a root key in the emulator; the PKI's client certificate is its vCenter.
    const adminTls = loadTlsFiles(pki.internalDir, 'admin');
    const admin = new adminV1.AdminClient(`localhost:${lcPort}`, channelCredentials(adminTls), channelOptions());
    const adminCall = <Req, Res>(method: string, req: Req): Promise<Res> => new Promise((resolve, reject) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (admin as any)[method](req, (err: Error | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
    try {
      const emuUrl = `http://127.0.0.1:${emuPort}`;
      await adminCall('createTenant', {
        id: 'bench', name: 'bench',
        provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emuUrl, iamEndpoint: emuUrl, instanceId, crkId: '' },
        credential: 'bench-api-key', createRootKey: true,
      });
      await adminCall('addCertificate', { tenantId: 'bench', pem: pki.clientCert });
    } finally {
      admin.close();
    }
    const pids: Record<string, number> = { redis: redisPid(redis) };
    for (const [name, c] of children) pids[name] = c.pid as number;
    return {
      kmipPort, pids,
      cpuSeconds: () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)])),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The redis-server pid: its process title is "redis-server 127.0.0.1:<port>". */
function redisPid(r: TestRedis): number {
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('redis-server') && (cmd.includes(`:${r.port}`) || cmd.includes(`\0${r.port}\0`))) return Number(p);
    } catch { /* gone */ }
  }
  return NaN;
}
