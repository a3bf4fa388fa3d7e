import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { freePort, redisCommand, RespValue, startRedis, TestRedis, waitFor } from './redis';

// A Redis master with replicas and Sentinels, for failover tests: each node a
// throwaway startRedis() (AOF, fsync always, own port and directory), each
// Sentinel `redis-server <conf> --sentinel` with a configuration file of its
// own (Sentinel rewrites it). Short down-after and failover timeouts, so a
// failover takes seconds. Everything on 127.0.0.1.

export interface SentinelSetOptions {
  /** Replicas of the first master (default 1). */
  replicas?: number;
  /** Sentinel processes (default 3). */
  sentinels?: number;
  /** Sentinels that must agree the master is down (default: a majority). */
  quorum?: number;
  /** Master name (default "mymaster"). */
  name?: string;
  /** requirepass and masterauth of every node, auth-pass of the Sentinels. */
  password?: string;
  /** sentinel down-after-milliseconds (default 1000). */
  downAfterMs?: number;
  /** sentinel failover-timeout (default 3000). */
  failoverTimeoutMs?: number;
}

export interface TestSentinelSet {
  name: string;
  password?: string;
  /** nodes[0] is the first master, the others its replicas. */
  nodes: TestRedis[];
  /** Sentinel addresses, as key-lifecycle takes them. */
  sentinels: Array<{ host: string; port: number }>;
  /** Port of the master every Sentinel names, when they agree. */
  masterPort(): Promise<number | undefined>;
  /** Waits until every Sentinel names a master whose port satisfies `accept`; returns that port. */
  waitForMaster(accept: (port: number) => boolean, timeoutMs?: number): Promise<number>;
  /** Waits until every Sentinel knows the master, each replica (linked) and every other Sentinel, and can fail over. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Waits until the node on `port` is a replica in sync with its master. */
  waitInSync(port: number, timeoutMs?: number): Promise<void>;
  /** A command to the node on `port` (authenticated). */
  command(port: number, args: Array<string | number>): Promise<RespValue>;
  /** A command to a Sentinel (the first by default), e.g. ['SENTINEL', 'FAILOVER', name]. */
  sentinelCommand(args: Array<string | number>, port?: number): Promise<RespValue>;
  stop(): Promise<void>;
}

/** A flat [k1, v1, k2, v2, ...] reply as an object. */
function fields(v: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = String(v[i + 1]);
  return out;
}

export async function startSentinelSet(opts: SentinelSetOptions = {}): Promise<TestSentinelSet> {
  const name = opts.name ?? 'mymaster';
  const replicas = opts.replicas ?? 1;
  const count = opts.sentinels ?? 3;
  const quorum = opts.quorum ?? Math.floor(count / 2) + 1;
  const pw = opts.password;
  const auth = pw !== undefined ? ['--requirepass', pw, '--masterauth', pw] : [];
  // No delay before a full sync: a replica that (re)joins is in sync at once.
  const nodeArgs = ['--repl-diskless-sync-delay', '0', ...auth];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keywarden-sentinel-'));
  const nodes: TestRedis[] = [];
  const procs: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  const command = (port: number, args: Array<string | number>) => redisCommand(port, args, { password: pw });
  const sentinelCommand = (port: number, args: Array<string | number>) => redisCommand(port, args);

  const stop = async () => {
    await Promise.all(procs.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }));
    await Promise.all(nodes.map((n) => n.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const inSync = async (port: number) => {
    const info = await command(port, ['INFO', 'replication']).catch(() => '');
    return typeof info === 'string' && /role:slave/.test(info) && /master_link_status:up/.test(info) && !/master_sync_in_progress:1/.test(info);
  };

  try {
    const master = await startRedis({ args: nodeArgs });
    nodes.push(master);
    for (let i = 0; i < replicas; i++) nodes.push(await startRedis({ args: [...nodeArgs, '--replicaof', '127.0.0.1', String(master.port)] }));
    for (const r of nodes.slice(1)) await waitFor(() => inSync(r.port), 15_000, `replica ${r.port} in sync`);

    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      fs.writeFileSync(conf, [
        `port ${port}`,
        'bind 127.0.0.1',
        'daemonize no',
        `dir ${dir}`,
        `logfile ${path.join(dir, `sentinel-${port}.log`)}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 3000}`,
        `sentinel parallel-syncs ${name} 1`,
        ...(pw !== undefined ? [`sentinel auth-pass ${name} ${pw}`] : []),
        '',
      ].join('\n'));
      const p = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
      procs.push(p);
      sentinelPorts.push(port);
      let failed: Error | undefined;
      p.once('error', (e) => { failed = e; });
      p.once('exit', (code, sig) => { failed ??= new Error(`redis-sentinel exited (${code ?? sig}); see ${dir}`); });
      await waitFor(async () => {
        if (failed) throw failed;
        return (await sentinelCommand(port, ['PING']).catch(() => undefined)) === 'PONG';
      }, 10_000, `redis-sentinel on port ${port}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const masterPort = async () => {
    const ports = await Promise.all(sentinelPorts.map(async (p) => {
      const r = await sentinelCommand(p, ['SENTINEL', 'get-master-addr-by-name', name]).catch(() => undefined);
      return Array.isArray(r) ? Number(r[1]) : undefined;
    }));
    return ports.every((p) => p !== undefined && p === ports[0]) ? ports[0] : undefined;
  };

  return {
    name,
    password: pw,
    nodes,
    sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    masterPort,
    command,
    sentinelCommand: (args, port = sentinelPorts[0]) => sentinelCommand(port, args),
    async waitForMaster(accept, timeoutMs = 20_000) {
      let port: number | undefined;
      await waitFor(async () => {
        port = await masterPort();
        return port !== undefined && accept(port);
      }, timeoutMs, 'the Sentinels to agree on a new master');
      return port as number;
    },
    async waitReady(timeoutMs = 20_000) {
      await waitFor(async () => {
        for (const p of sentinelPorts) {
          const ok = await sentinelCommand(p, ['SENTINEL', 'ckquorum', name]).catch((e: Error) => e);
          if (typeof ok !== 'string' || !ok.startsWith('OK')) return false;
          const peers = await sentinelCommand(p, ['SENTINEL', 'sentinels', name]).catch(() => []);
          if (!Array.isArray(peers) || peers.length !== sentinelPorts.length - 1) return false;
          const reps = await sentinelCommand(p, ['SENTINEL', 'replicas', name]).catch(() => []);
          const linked = (Array.isArray(reps) ? reps : []).map(fields)
            .filter((r) => r['master-link-status'] === 'ok' && !/s_down|o_down|disconnected/.test(r.flags ?? ''));
          if (linked.length < nodes.length - 1) return false;
        }
        return true;
      }, timeoutMs, 'the Sentinels to know the master, its replicas and each other');
    },
    async waitInSync(port, timeoutMs = 15_000) {
      await waitFor(() => inSync(port), timeoutMs, `replica ${port} in sync`);
    },
    stop,
  };
}
