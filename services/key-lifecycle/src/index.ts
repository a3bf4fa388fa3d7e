import type { Socket } from 'net';
import Redis from 'ioredis';
import {
  addHealth, bindServer, createLogger, createRegistry, grpc, HealthServer, Logger, MetricsServer, serverCredentials, serverOptions, setServing,
  shutdownServer, startHealthServer, startMetricsServer, TlsFiles,
} from '@keywarden/common';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { adminService } from './admin-service';
import { RewrapJobs } from './admin/rewrap';
import { DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_TTL_MS, PlaintextCache, registerCacheMetrics } from './cache';
import { Core, createMetrics } from './core';
import { lifecycleService } from './lifecycle-service';
import { Notifications } from './notifications';
import { connectRedis, createRedisConnection, describeTarget, RedisTarget, retireRedis, watchRedis } from './redis-connection';
import { checkQuota, Quota } from './model/quota';
import { CapacityProbe, registerCapacityMetrics } from './store/capacity';
import { ClusterTarget, createClusterConnection, isClusterTarget } from './store/cluster';
import { migrateLayout } from './store/migrate';
import { RedisClient, Store } from './store/store';
import { DEFAULT_UNWRAP_LIMITS, registerUnwrapMetrics, UnwrapGate } from './unwrap-gate';
import { Wrapping, WrappingDeadlines } from './wrapping';

export interface KeyLifecycleOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  /** Server certificate, key and CA for mTLS; plain gRPC when absent. */
  tls?: TlsFiles;
  /** Redis: a URL, Sentinels that key-lifecycle follows through failovers, or Redis Cluster's seed nodes. */
  redis?: RedisTarget | ClusterTarget;
  /** Same as `redis: { url }` (kept for existing callers); `redis` wins when both are given. */
  redisUrl?: string;
  /**
   * Plaintext gRPC health (nothing else) on this host:port, for probes that
   * cannot present a client certificate; none when absent. SERVING, on both
   * ports, only while Redis is reachable.
   */
  healthAddress?: string;
  /** crk-wrapping address; a dns:/// name spreads calls over every replica (round robin). */
  wrappingAddress: string;
  wrappingTls?: TlsFiles;
  logger?: Logger;
  /** Serve Prometheus metrics on this port (0 = a free one); none when absent. */
  metricsPort?: number;
  /** Address the metrics port binds (default 0.0.0.0; 127.0.0.1 keeps it to this host). */
  metricsHost?: string;
  durability?: {
    /** Replicas that must confirm each record write (Redis WAIT); 0 = none. */
    waitReplicas?: number;
    waitTimeoutMs?: number;
  };
  /**
   * Key cache: how long a key unwrapped by this replica may answer Gets,
   * counted from its unwrap (default 30000). The delay before a change made
   * directly in the provider stops Gets; 0 = strict mode (every Get asks the
   * provider). Changes made through keywarden apply at once either way.
   */
  cacheTtlMs?: number;
  /** Most keys the cache holds; the least recently used go first (default 100000). */
  cacheMaxEntries?: number;
  /**
   * Unwrap calls to crk-wrapping in flight per tenant (default 16) and waiting
   * beyond them (default 1000); a Get beyond that, or waiting longer than the
   * wrapping data deadline, fails at once with UNAVAILABLE.
   */
  unwrapConcurrency?: number;
  unwrapQueue?: number;
  wrappingDeadlines?: WrappingDeadlines;
  /** How often sealed-object removals that failed at Destroy time are retried. */
  destroySweepMs?: number;
  /** Approximate length the audit stream is trimmed to. */
  auditMaxLen?: number;
  /** Audit entries older than this are trimmed (every minute, approximately); 0 = by length only. */
  auditRetentionMs?: number;
  /**
   * Default quotas of tenants without their own (docs/key-lifecycle.md,
   * "Quotas"); each a whole number from 1 to its maximum, else start-up fails.
   */
  quotas?: Partial<Quota>;
  /** How often the capacity metrics (tenant usage, Redis memory) read Redis, at most (default 15 s). */
  capacityEveryMs?: number;
}

export interface KeyLifecycle {
  port: number;
  metricsPort?: number;
  healthPort?: number;
  close(): Promise<void>;
}

/** Warns when Redis would not keep an acknowledged write through a crash. */
async function checkDurability(redis: RedisClient, log: Logger): Promise<void> {
  try {
    const [, aof] = (await redis.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
    if (aof !== 'yes' || fsync !== 'always') {
      log.warn({ appendonly: aof, appendfsync: fsync },
        'Redis is not configured with appendonly yes + appendfsync always: an acknowledged Create can be lost if Redis crashes');
    }
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (policy !== 'noeviction') {
      log.warn({ maxmemoryPolicy: policy }, 'Redis may evict keys (maxmemory-policy is not noeviction): records could disappear under memory pressure');
    }
    // A record hash holds the sealed reference (about 160 bytes): smaller limits make every record a hashtable, three times its size.
    const [, entries] = (await redis.config('GET', 'hash-max-listpack-entries')) as string[];
    const [, value] = (await redis.config('GET', 'hash-max-listpack-value')) as string[];
    if (Number(entries) < 256 || Number(value) < 512) {
      log.warn({ hashMaxListpackEntries: Number(entries), hashMaxListpackValue: Number(value) },
        'Redis keeps small hashes compact only up to hash-max-listpack-entries / hash-max-listpack-value: set them to at least 256 / 512 (docs/deployment.md), or each key takes about three times the memory');
    }
  } catch (err) {
    log.warn({ err }, 'cannot read the Redis persistence configuration (CONFIG GET refused); make sure AOF with appendfsync always is on');
  }
}

/** gRPC service names in the health service, besides '' (the whole server). */
export const HEALTH_SERVICES = ['keywarden.lifecycle.v1.KeyLifecycle', 'keywarden.admin.v1.Admin'] as const;

/** How long start-up waits for a Redis master before it gives up. */
const CONNECT_TIMEOUT_MS = 15_000;

export async function startKeyLifecycle(opts: KeyLifecycleOptions): Promise<KeyLifecycle> {
  const log = opts.logger ?? createLogger('key-lifecycle');
  const target = opts.redis ?? (opts.redisUrl !== undefined ? { url: opts.redisUrl } : undefined);
  if (!target) throw new Error('startKeyLifecycle: give `redis` (a URL or Sentinels) or `redisUrl`');
  const waitReplicas = opts.durability?.waitReplicas ?? 0;
  const quota = checkQuota(opts.quotas);
  const open = (purpose: string, extra: { enableAutoPipelining?: boolean; commandTimeoutMs?: number } = {}): Redis => {
    const { commandTimeoutMs, ...redisExtra } = extra;
    const c: RedisClient = isClusterTarget(target)
      ? createClusterConnection(target, purpose, { ...redisExtra, ...(commandTimeoutMs !== undefined ? { commandTimeoutMs } : {}) })
      : createRedisConnection(target, purpose, redisExtra);
    c.on('error', (err: Error) => log.warn({ err: err.message, connection: purpose }, 'redis connection error'));
    // The Cluster client has every method used on a connection here (status, ping, commands, events).
    return c as Redis;
  };
  const redis = open('commands');
  const connections: Redis[] = [redis];
  let stopWatching: (() => void) | undefined;
  let healthServer: HealthServer | undefined;
  const server = new grpc.Server(serverOptions({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 }));
  try {
    await connectRedis(redis, CONNECT_TIMEOUT_MS);
    await checkDurability(redis, log);
    // WAIT counts the writes of its own connection: object writes get one.
    // On Redis Cluster its commands may wait for WAIT (waitTimeoutMs) before theirs is read: a longer command timeout.
    const writer = waitReplicas > 0 ? open('writer', { commandTimeoutMs: 2 * (opts.durability?.waitTimeoutMs ?? 1000) + 3_000 }) : redis;
    if (writer !== redis) {
      connections.push(writer);
      await connectRedis(writer, CONNECT_TIMEOUT_MS);
    }
    const sub = open('subscriber', { enableAutoPipelining: false });
    connections.push(sub);

    const store = new Store(redis, log, {
      writer, waitReplicas, waitTimeoutMs: opts.durability?.waitTimeoutMs, auditMaxLen: opts.auditMaxLen, auditRetentionMs: opts.auditRetentionMs, quota,
    });
    // Before anything is served: records of an earlier layout, and the usage counters quotas need.
    await migrateLayout(store, log);
    const cache = new PlaintextCache(opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, opts.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES);
    const notifications = await Notifications.start(sub, log, cache);
    // Redis Cluster: what this replica remembers of a certificate's tenant goes with the certificate.
    notifications.onRevocation((r) => store.forgetCertificate(r.fingerprint));
    const wrapping = new Wrapping(opts.wrappingAddress, opts.wrappingTls, opts.wrappingDeadlines);
    const unwraps = new UnwrapGate({
      concurrency: opts.unwrapConcurrency ?? DEFAULT_UNWRAP_LIMITS.concurrency,
      queue: opts.unwrapQueue ?? DEFAULT_UNWRAP_LIMITS.queue,
      queueTimeoutMs: opts.wrappingDeadlines?.dataMs ?? DEFAULT_UNWRAP_LIMITS.queueTimeoutMs,
    });
    const registry = createRegistry('key-lifecycle');
    registerCacheMetrics(registry, cache);
    registerUnwrapMetrics(registry, unwraps);
    registerCapacityMetrics(registry, new CapacityProbe(store, log, opts.capacityEveryMs));
    const core = new Core(store, wrapping, cache, log, createMetrics(registry), unwraps);
    const jobs = new RewrapJobs(core);

    // Who may call what: docs/architecture.md, "Trust model". A plaintext server (development) checks no one.
    const secure = Boolean(opts.tls);
    if (!secure) log.warn('plaintext gRPC: callers are not authenticated (development only)');
    server.addService(lifecycleV1.KeyLifecycleService, lifecycleService(core, notifications, secure));
    server.addService(adminV1.AdminService, adminService(core, jobs, secure));
    // One health service on the mTLS port and the plaintext health port.
    const health = addHealth(server, {});
    setServing(health, HEALTH_SERVICES, false);
    let wasUp = true;
    stopWatching = watchRedis(connections, (up) => {
      setServing(health, HEALTH_SERVICES, up);
      if (up && !wasUp) {
        const s = redis.stream as Socket | undefined;
        log.info({ master: s ? `${s.remoteAddress}:${s.remotePort}` : undefined }, 'redis reachable again: serving');
      } else if (!up) {
        log.warn('redis unreachable: health NOT_SERVING');
      }
      wasUp = up;
    }, { pingEveryMs: 2_000 });
    const port = await bindServer(server, opts.address, serverCredentials(opts.tls));
    if (opts.healthAddress !== undefined) healthServer = await startHealthServer(opts.healthAddress, health);

    const sweep = setInterval(() => {
      core.sweepDestroyPending().catch((err: unknown) => log.warn({ err }, 'destroy sweep failed'));
    }, opts.destroySweepMs ?? 60_000);
    sweep.unref();
    const trim = setInterval(() => {
      store.trimAudit().catch((err: unknown) => log.warn({ err }, 'audit trim failed'));
    }, 60_000);
    trim.unref();

    let metrics: MetricsServer | undefined;
    if (opts.metricsPort !== undefined) metrics = await startMetricsServer(registry, opts.metricsPort, opts.metricsHost);
    log.info({ port, healthPort: healthServer?.port, ...(isClusterTarget(target) ? { redisCluster: target.cluster.map((n) => `${n.host}:${n.port}`) } : describeTarget(target)), wrapping: opts.wrappingAddress, cacheTtlMs: cache.ttlMs, cacheMaxEntries: cache.maxEntries, unwrapLimits: unwraps.limits, waitReplicas, quota, cluster: store.cluster }, 'key-lifecycle listening');

    return {
      port,
      metricsPort: metrics?.port,
      healthPort: healthServer?.port,
      close: async () => {
        retireRedis(connections);
        clearInterval(sweep);
        clearInterval(trim);
        stopWatching?.();
        setServing(health, HEALTH_SERVICES, false);
        notifications.endStreams();
        await shutdownServer(server, 2_000);
        await jobs.close();
        await notifications.close();
        wrapping.close();
        cache.close();
        await metrics?.close();
        healthServer?.close();
        for (const r of connections) r.disconnect();
      },
    };
  } catch (e) {
    retireRedis(connections);
    stopWatching?.();
    healthServer?.close();
    server.forceShutdown();
    for (const r of connections) r.disconnect();
    throw e;
  }
}

export { DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_TTL_MS, PlaintextCache } from './cache';
export { DEFAULT_UNWRAP_LIMITS, UnwrapGate } from './unwrap-gate';
export type { UnwrapLimits } from './unwrap-gate';
export type { RedisTarget, SentinelAddress, SentinelTarget, UrlTarget } from './redis-connection';
export type { ClusterTarget } from './store/cluster';
export { DEFAULT_QUOTA } from './model/quota';
// For the capacity benchmark (bench/capacity-bench.ts), which drives the store and the operations in-process.
export { Core } from './core';
export { Wrapping } from './wrapping';
export { locate } from './operations/locate';
export { addAttribute } from './model/attributes';
export { activate } from './model/state';
export { migrateLayout } from './store/migrate';
export type { Quota } from './model/quota';
export { Store } from './store/store';
export { MAX_RELAY_IN_FLIGHT, serveRelay } from './relay';
export type { RelayHandlers } from './relay';
export type { KeyRecord } from './model/record';
