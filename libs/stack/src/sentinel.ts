// A Redis master with replicas and Sentinels: each node a startRedis() (AOF,
// fsync always), each Sentinel `redis-server <conf> --sentinel` with a
// configuration file of its own, which Sentinel rewrites (it records the
// current master there). Short down-after and failover timeouts, so a
// failover takes seconds. Everything on 127.0.0.1.
//
// Throwaway (tests: free ports, a temp directory) or kept (the local HA
// stack: fixed ports, state in the data directory). A kept set started again
// asks its Sentinels' files which node is the master, and starts the others
// as its replicas; a node restarted after a crash rejoins as a replica of the
// master the Sentinels name, as deploy/'s redis.sh does.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ChildProc } from './proc';
import { freePort } from './ports';
import { redisCommand, RespValue, startRedis, TestRedis, waitFor } from './redis';

export interface SentinelSetOptions {
  /** Replicas of the first master (default 1). */
  replicas?: number;
  /** Sentinel processes (default 3). */
  sentinels?: number;
  /** Sentinels that must agree the master is down (default: a majority). */
  quorum?: number;
  /** Master name (default "mymaster"). */
  name?: string;
  /** requirepass and masterauth of every node and auth-pass of the Sentinels (in 0600 files). */
  password?: string;
  /** The Sentinels want the password too (requirepass); default false. */
  protectSentinels?: boolean;
  /** sentinel down-after-milliseconds (default 1000). */
  downAfterMs?: number;
  /** sentinel failover-timeout (default 3000). */
  failoverTimeoutMs?: number;
  /** Keep everything here (nodes in redis, redis-2, ...; Sentinels in sentinel/); default a temp directory removed by stop(). */
  dir?: string;
  /** Where logs go (default `dir`). */
  logDir?: string;
  /** Fixed ports (default free ones). */
  nodePorts?: number[];
  sentinelPorts?: number[];
}

export interface TestSentinelSet {
  name: string;
  password?: string;
  /** nodes[0] is the first master, the others its replicas. */
  nodes: TestRedis[];
  /** The Sentinel processes. */
  sentinelProcs: ChildProc[];
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
  /** Starts the node on `port` again after a crash, as a replica of the master the Sentinels name. */
  rejoin(port: number): Promise<void>;
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

/** The master port a Sentinel's (rewritten) configuration file names. */
function monitoredPort(conf: string, name: string): number | undefined {
  if (!fs.existsSync(conf)) return undefined;
  const m = new RegExp(`^sentinel monitor ${name} \\S+ (\\d+) \\d+$`, 'm').exec(fs.readFileSync(conf, 'utf8'));
  return m ? Number(m[1]) : undefined;
}

export async function startSentinelSet(opts: SentinelSetOptions = {}): Promise<TestSentinelSet> {
  const name = opts.name ?? 'mymaster';
  const replicas = opts.replicas ?? 1;
  const count = opts.sentinels ?? 3;
  const quorum = opts.quorum ?? Math.floor(count / 2) + 1;
  const pw = opts.password;
  const own = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'keywarden-sentinel-'));
  const logDir = opts.logDir ?? dir;
  const sentinelDir = own ? dir : path.join(dir, 'sentinel');
  fs.mkdirSync(sentinelDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(logDir, { recursive: true });
  // No delay before a full sync: a replica that (re)joins is in sync at once.
  const nodeArgs = ['--repl-diskless-sync-delay', '0'];
  const nodes: TestRedis[] = [];
  const procs: ChildProc[] = [];
  const sentinelPorts: number[] = [];
  const spw = opts.protectSentinels ? pw : undefined;
  const command = (port: number, args: Array<string | number>) => redisCommand(port, args, { password: pw });
  const sentinelCommand = (port: number, args: Array<string | number>) => redisCommand(port, args, { password: spw });

  const stop = async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await Promise.all(nodes.map((n) => n.stop()));
    if (own) fs.rmSync(dir, { recursive: true, force: true });
  };

  const inSync = async (port: number) => {
    const info = await command(port, ['INFO', 'replication']).catch(() => '');
    return typeof info === 'string' && /role:slave/.test(info) && /master_link_status:up/.test(info) && !/master_sync_in_progress:1/.test(info);
  };

  const masterPort = async () => {
    const ports = await Promise.all(sentinelPorts.map(async (p) => {
      const r = await sentinelCommand(p, ['SENTINEL', 'get-master-addr-by-name', name]).catch(() => undefined);
      return Array.isArray(r) ? Number(r[1]) : undefined;
    }));
    const known = ports.filter((p) => p !== undefined);
    return known.length > 0 && known.length === ports.filter((_, i) => procs[i]?.alive ?? true).length && known.every((p) => p === known[0]) ? known[0] : undefined;
  };

  try {
    const nodeCount = replicas + 1;
    const ports: number[] = [];
    for (let i = 0; i < nodeCount; i++) ports.push(opts.nodePorts?.[i] ?? await freePort());
    for (let i = 0; i < count; i++) sentinelPorts.push(opts.sentinelPorts?.[i] ?? await freePort());
    const confOf = (i: number) => path.join(sentinelDir, `sentinel-${i + 1}.conf`);
    // A kept set that ran before: its Sentinels wrote down who the master is now.
    const master = ports.includes(monitoredPort(confOf(0), name) ?? -1) ? (monitoredPort(confOf(0), name) as number) : ports[0];
    const nodeOpts = (i: number) => ({
      port: ports[i], password: pw, args: nodeArgs, name: `redis-${i + 1}`, role: 'redis',
      dir: own ? undefined : path.join(dir, i === 0 ? 'redis' : `redis-${i + 1}`),
      confFile: own ? undefined : path.join(dir, i === 0 ? 'redis.conf' : `redis-${i + 1}.conf`),
      logFile: own ? undefined : path.join(logDir, `redis-${i + 1}.log`),
    });
    const mi = ports.indexOf(master);
    nodes[mi] = await startRedis(nodeOpts(mi));
    for (let i = 0; i < nodeCount; i++) {
      if (i === mi) continue;
      const o = nodeOpts(i);
      nodes[i] = await startRedis({ ...o, args: [...o.args, '--replicaof', '127.0.0.1', String(master)] });
    }
    for (let i = 0; i < nodeCount; i++) if (i !== mi) await waitFor(() => inSync(ports[i]), 15_000, `replica ${ports[i]} in sync`);

    for (let i = 0; i < count; i++) {
      const port = sentinelPorts[i];
      const conf = confOf(i);
      const log = path.join(logDir, own ? `sentinel-${port}.log` : `sentinel-${i + 1}.log`);
      if (!fs.existsSync(conf) || own) {
        const lines = [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${sentinelDir}`,
          `logfile ${log}`,
          `sentinel monitor ${name} 127.0.0.1 ${master} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 3000}`,
          `sentinel parallel-syncs ${name} 1`,
          ...(pw !== undefined ? [`sentinel auth-pass ${name} ${pw}`] : []),
          ...(spw !== undefined ? [`requirepass ${spw}`] : []),
        ];
        fs.writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
      }
      const p = new ChildProc({
        name: `sentinel-${i + 1}`, role: 'sentinel', command: 'redis-server', args: [conf, '--sentinel'], logFile: log,
        ports: { sentinel: port }, readyTimeoutMs: 10_000,
        ready: async () => (await sentinelCommand(port, ['PING']).catch(() => undefined)) === 'PONG',
      });
      procs.push(p);
      await p.start();
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const set: TestSentinelSet = {
    name,
    password: pw,
    nodes,
    sentinelProcs: procs,
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
    async rejoin(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on port ${port}`);
      // The Sentinels may still name the dead node until they fail over: wait for another.
      const master = await set.waitForMaster((p) => p !== port, 30_000).catch(() => undefined);
      await node.restart(master === undefined ? [] : ['--replicaof', '127.0.0.1', String(master)]);
    },
    stop,
  };
  return set;
}
