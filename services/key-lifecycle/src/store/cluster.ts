// Redis Cluster for key-lifecycle (docs/key-lifecycle.md, "Redis Cluster"):
// ioredis' Cluster client, which learns the slot map from any seed node,
// follows MOVED/ASK redirections, and learns the new primary of a slot after
// a failover (CLUSTERDOWN and connection errors refresh the map). Every key
// of a tenant is in one slot (store/keys.ts), so each write script runs on
// one primary. The single primary with Sentinel stays the default.
import { Cluster, ClusterOptions } from 'ioredis';
import { ConfigError } from '@keywarden/common';
import type { SentinelAddress } from '../redis-connection';

export interface ClusterTarget {
  /** Seed nodes: any primaries or replicas of the cluster. */
  cluster: SentinelAddress[];
  /** Password of the nodes (AUTH). */
  password?: string;
}

export const isClusterTarget = (t: unknown): t is ClusterTarget => typeof t === 'object' && t !== null && 'cluster' in t;

/** REDIS_CLUSTER_NODES: "host:port,host:port" (port 6379 when omitted; IPv6 as [addr]:port). */
export function parseClusterNodes(list: string, variable = 'REDIS_CLUSTER_NODES'): SentinelAddress[] {
  const out: SentinelAddress[] = [];
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(item);
    const port = m?.[3] === undefined ? 6379 : Number(m[3]);
    if (!m || port < 1 || port > 65535) throw new ConfigError(`${variable}: "${item}" is not host:port`);
    out.push({ host: m[1] ?? m[2], port });
  }
  if (out.length === 0) throw new ConfigError(`${variable} lists no node`);
  return out;
}

/** Longest a command may go unanswered on a Cluster connection before it fails (UNAVAILABLE). */
export const CLUSTER_COMMAND_TIMEOUT_MS = 5_000;

/**
 * One Cluster client (lazy: call connect()). `commandTimeoutMs`: a command
 * unanswered this long fails ("Command timed out": UNAVAILABLE) instead of
 * holding its caller; the write connection's must exceed the WAIT timeout.
 */
export function createClusterConnection(target: ClusterTarget, purpose: string, extra: Partial<ClusterOptions> & { commandTimeoutMs?: number } = {}): Cluster {
  const { commandTimeoutMs = CLUSTER_COMMAND_TIMEOUT_MS, ...rest } = extra;
  return new Cluster(target.cluster, {
    lazyConnect: true,
    ...rest,
    // Never auto-pipelining on Redis Cluster (whatever `extra` asks): ioredis
    // groups a script call by its first argument, which for the scripts with
    // a variable key count (WRITE_OBJECT, LOAD_CONTEXT_CLUSTER) is the key
    // count, not a key, so calls for tenants on different primaries end up in
    // one pipeline and fail ("All keys in the pipeline should belong to the
    // same slots allocation group"); and a batch caught by a failover fails
    // whole. Commands are still sent without waiting for earlier replies.
    enableAutoPipelining: false,
    // Reads and writes go to primaries: a replica may lag behind an acknowledged write.
    scaleReads: 'master',
    // During a failover a slot has no primary for a few seconds: retry, then fail (UNAVAILABLE), not hang.
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2_000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    redisOptions: {
      connectTimeout: 5_000,
      maxRetriesPerRequest: 2,
      // Observed on Redis 7.0 (test/cluster.test.ts): a WAIT sent to a just-promoted primary while
      // the old one rejoins as its replica, and the commands queued behind it, went unanswered.
      commandTimeout: commandTimeoutMs,
      connectionName: `key-lifecycle:${purpose}`,
      ...(target.password === undefined ? {} : { password: target.password }),
    },
  });
}
