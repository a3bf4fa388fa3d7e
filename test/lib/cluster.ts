// A throwaway Redis Cluster for key-lifecycle's cluster tests: 3 primaries
// and 3 replicas, each a startRedis() node (AOF, fsync always, password in a
// 0600 file with masterauth too) in cluster mode, on free ports with a bus
// port of its own (--cluster-port: port + 10000 may be out of range), joined
// by `redis-cli --cluster create ... --cluster-replicas 1`. kill9Primary()
// crashes a primary (SIGKILL) and waits until its replica is promoted and
// the cluster says ok again. stop() kills every node and removes the
// directory; so does the process's exit, should a test forget.
import { execFile } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { freePort, redisCommand, RespValue, startRedis, TestRedis, waitFor } from '@keywarden/stack';

export interface TestClusterOptions {
  /** requirepass and masterauth of every node (default: none). */
  password?: string;
  /** cluster-node-timeout (default 2000 ms). */
  nodeTimeoutMs?: number;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'slave';
  /** The primary's id (replicas). */
  masterId?: string;
  failed: boolean;
  /** [first, last] slot ranges (primaries). */
  slots: Array<[number, number]>;
}

export interface TestCluster {
  password?: string;
  dir: string;
  /** Every node, the killed ones too. */
  nodes: TestRedis[];
  /** Seed addresses, as key-lifecycle takes them (REDIS_CLUSTER_NODES). */
  seeds: Array<{ host: string; port: number }>;
  /** A command to the node on `port` (authenticated). */
  command(port: number, args: Array<string | number>): Promise<RespValue>;
  /** CLUSTER NODES as seen by the node on `port` (default: a live one). */
  clusterNodes(port?: number): Promise<ClusterNodeInfo[]>;
  /** CLUSTER KEYSLOT of a key. */
  keySlot(key: string): Promise<number>;
  /** Port of the primary serving `slot`, as a live node sees it. */
  primaryOf(slot: number): Promise<number>;
  /** Waits until every live node says cluster_state:ok, and every replica is linked to its primary. */
  waitOk(timeoutMs?: number): Promise<void>;
  /**
   * SIGKILL of the primary on `port`; resolves once one of its replicas
   * serves its slots as primary and the cluster is ok: the new primary's
   * port and how long that took from the kill.
   */
  kill9Primary(port: number, timeoutMs?: number): Promise<{ newPrimary: number; promotedAfterMs: number }>;
  /**
   * Starts a killed node again (same port, directory and nodes.conf, as a
   * restarted pod): it rejoins as a replica of the primary that took over,
   * and this waits until it is in sync and the cluster is ok.
   */
  rejoin(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text.trim().split('\n').filter(Boolean).map((line) => {
    const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
    const f = flags.split(',');
    return {
      id,
      port: Number(/:(\d+)@/.exec(addr)?.[1] ?? 0),
      role: f.includes('master') ? 'master' : 'slave',
      ...(master !== '-' ? { masterId: master } : {}),
      failed: f.includes('fail') || f.includes('fail?'),
      slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
        const [a, b] = s.split('-').map(Number);
        return [a, b ?? a] as [number, number];
      }),
    };
  });
}

export async function startCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const pw = opts.password;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keywarden-cluster-'));
  const nodes: TestRedis[] = [];
  const command = (port: number, args: Array<string | number>) => redisCommand(port, args, { password: pw, timeoutMs: 3000 });
  const live = () => nodes.filter((n) => n.proc.alive);
  // A test that dies before afterAll must not leave redis-servers behind (they run in their own process groups).
  const onExit = () => { for (const n of nodes) n.proc.signal('SIGKILL'); };
  process.once('exit', onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await Promise.all(nodes.map((n) => n.proc.kill('SIGKILL')));
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const clusterNodes = async (port?: number) => {
    const p = port ?? live()[0]?.port;
    const r = await command(p, ['CLUSTER', 'NODES']);
    if (typeof r !== 'string') throw new Error(`CLUSTER NODES on ${p}: ${String(r)}`);
    return parseNodes(r);
  };

  const primaryOf = async (slot: number) => {
    const own = (await clusterNodes()).find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!own) throw new Error(`no primary serves slot ${slot}`);
    return own.port;
  };

  const waitOk = async (timeoutMs = 30_000) => {
    await waitFor(async () => {
      for (const n of live()) {
        const info = await command(n.port, ['CLUSTER', 'INFO']).catch(() => '');
        if (typeof info !== 'string' || !/cluster_state:ok/.test(info)) return false;
        const repl = await command(n.port, ['INFO', 'replication']).catch(() => '');
        if (typeof repl !== 'string') return false;
        if (/role:slave/.test(repl) && (!/master_link_status:up/.test(repl) || /master_sync_in_progress:1/.test(repl))) return false;
      }
      return true;
    }, timeoutMs, 'the Redis Cluster to be ok on every node');
  };

  try {
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      let p = await freePort();
      while (ports.includes(p)) p = await freePort();
      ports.push(p);
    }
    const busPorts: number[] = [];
    for (let i = 0; i < 6; i++) {
      let p = await freePort();
      while (ports.includes(p) || busPorts.includes(p)) p = await freePort();
      busPorts.push(p);
    }
    await Promise.all(ports.map(async (port, i) => {
      const nodeDir = path.join(dir, `node-${port}`);
      nodes[i] = await startRedis({
        port, dir: nodeDir, password: pw, name: `redis-cluster-${i + 1}`,
        args: [
          '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--cluster-port', String(busPorts[i]), '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000),
          // No delay before a full sync: a replica is in sync at once.
          '--repl-diskless-sync-delay', '0',
        ],
      });
    }));
    await new Promise<void>((resolve, reject) => {
      execFile('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
        // REDISCLI_AUTH: the password never on a command line.
        env: { ...process.env, ...(pw !== undefined ? { REDISCLI_AUTH: pw } : {}) }, timeout: 30_000,
      }, (err, stdout, stderr) => (err ? reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve()));
    });
    await waitOk();
    // Every node knows the other five and all 16384 slots are served.
    await waitFor(async () => {
      for (const n of nodes) {
        const known = await clusterNodes(n.port).catch(() => []);
        if (known.length !== 6 || known.filter((k) => k.role === 'master').length !== 3) return false;
      }
      return true;
    }, 20_000, 'every cluster node to know the others');
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    password: pw,
    dir,
    nodes,
    seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    command,
    clusterNodes,
    async keySlot(key) {
      return Number(await command(live()[0].port, ['CLUSTER', 'KEYSLOT', key]));
    },
    primaryOf,
    waitOk,
    async kill9Primary(port, timeoutMs = 30_000) {
      const before = await clusterNodes(port);
      const me = before.find((n) => n.port === port);
      if (!me || me.role !== 'master' || me.slots.length === 0) throw new Error(`${port} is not a primary serving slots`);
      const slot = me.slots[0][0];
      const node = nodes.find((n) => n.port === port) as TestRedis;
      const killedAt = Date.now();
      await node.kill9();
      let newPrimary = 0;
      await waitFor(async () => {
        const p = await primaryOf(slot).catch(() => 0);
        if (p === 0 || p === port) return false;
        newPrimary = p;
        return true;
      }, timeoutMs, `a replica of ${port} to be promoted`);
      const promotedAfterMs = Date.now() - killedAt;
      await waitFor(async () => {
        for (const n of live()) {
          const info = await command(n.port, ['CLUSTER', 'INFO']).catch(() => '');
          if (typeof info !== 'string' || !/cluster_state:ok/.test(info)) return false;
        }
        return true;
      }, timeoutMs, 'cluster_state:ok after the failover');
      return { newPrimary, promotedAfterMs };
    },
    async rejoin(port, timeoutMs = 30_000) {
      const node = nodes.find((n) => n.port === port) as TestRedis;
      await node.restart();
      await waitFor(async () => {
        const me = (await clusterNodes(port).catch(() => [])).find((n) => n.port === port);
        return me?.role === 'slave';
      }, timeoutMs, `${port} to rejoin as a replica`);
      await waitOk(timeoutMs);
    },
    stop,
  };
}
