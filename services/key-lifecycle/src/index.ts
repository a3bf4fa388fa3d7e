import Redis from 'ioredis';
import {
  addHealth, bindServer, createLogger, createRegistry, grpc, Logger, MetricsServer, serverCredentials, shutdownServer,
  startMetricsServer, TlsFiles,
} from '@keywarden/common';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { adminService } from './admin-service';
import { RewrapJobs } from './admin/rewrap';
import { PlaintextCache } from './cache';
import { Core, createMetrics } from './core';
import { lifecycleService } from './lifecycle-service';
import { Notifications } from './notifications';
import { Store } from './store/store';
import { Wrapping, WrappingDeadlines } from './wrapping';

export interface KeyLifecycleOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  /** Server certificate, key and CA for mTLS; plain gRPC when absent. */
  tls?: TlsFiles;
  redisUrl: string;
  /** crk-wrapping address; a dns:/// name spreads calls over every replica (round robin). */
  wrappingAddress: string;
  wrappingTls?: TlsFiles;
  logger?: Logger;
  /** Serve Prometheus metrics on this port (0 = a free one); none when absent. */
  metricsPort?: number;
  durability?: {
    /** Replicas that must confirm each record write (Redis WAIT); 0 = none. */
    waitReplicas?: number;
    waitTimeoutMs?: number;
  };
  /** Plaintext cache lifetime for Get; 0 (default) = no cache. Bounds the revocation delay. */
  cacheTtlMs?: number;
  /** Common names of client certificates allowed on the Admin API (mTLS only); empty = any. */
  adminClientNames?: string[];
  wrappingDeadlines?: WrappingDeadlines;
  /** How often sealed-object removals that failed at Destroy time are retried. */
  destroySweepMs?: number;
  /** Approximate length the audit stream is trimmed to. */
  auditMaxLen?: number;
}

export interface KeyLifecycle {
  port: number;
  metricsPort?: number;
  close(): Promise<void>;
}

/** Warns when Redis would not keep an acknowledged write through a crash. */
async function checkDurability(redis: Redis, log: Logger): Promise<void> {
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
  } catch (err) {
    log.warn({ err }, 'cannot read the Redis persistence configuration (CONFIG GET refused); make sure AOF with appendfsync always is on');
  }
}

export async function startKeyLifecycle(opts: KeyLifecycleOptions): Promise<KeyLifecycle> {
  const log = opts.logger ?? createLogger('key-lifecycle');
  const redisOptions = { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 2, connectTimeout: 5_000 };
  const redis = new Redis(opts.redisUrl, redisOptions);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const extra: Redis[] = [];
  try {
    await redis.connect();
    await checkDurability(redis, log);
    const waitReplicas = opts.durability?.waitReplicas ?? 0;
    const writer = waitReplicas > 0 ? redis.duplicate() : redis;
    if (writer !== redis) extra.push(writer);
    const sub = redis.duplicate({ enableAutoPipelining: false });
    extra.push(sub);

    const store = new Store(redis, log, { writer, waitReplicas, waitTimeoutMs: opts.durability?.waitTimeoutMs, auditMaxLen: opts.auditMaxLen });
    const cache = new PlaintextCache(opts.cacheTtlMs ?? 0);
    const notifications = await Notifications.start(sub, log, cache);
    const wrapping = new Wrapping(opts.wrappingAddress, opts.wrappingTls, opts.wrappingDeadlines);
    const registry = createRegistry('key-lifecycle');
    const core = new Core(store, wrapping, cache, log, createMetrics(registry));
    const jobs = new RewrapJobs(core);

    const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    server.addService(lifecycleV1.KeyLifecycleService, lifecycleService(core, notifications));
    server.addService(adminV1.AdminService, adminService(core, jobs, opts.adminClientNames));
    addHealth(server);
    const port = await bindServer(server, opts.address, serverCredentials(opts.tls));

    const sweep = setInterval(() => {
      core.sweepDestroyPending().catch((err: unknown) => log.warn({ err }, 'destroy sweep failed'));
    }, opts.destroySweepMs ?? 60_000);
    sweep.unref();

    let metrics: MetricsServer | undefined;
    if (opts.metricsPort !== undefined) metrics = await startMetricsServer(registry, opts.metricsPort);
    log.info({ port, wrapping: opts.wrappingAddress, cacheTtlMs: cache.ttlMs, waitReplicas }, 'key-lifecycle listening');

    return {
      port,
      metricsPort: metrics?.port,
      close: async () => {
        clearInterval(sweep);
        await shutdownServer(server, 2_000);
        await jobs.close();
        await notifications.close();
        wrapping.close();
        cache.clear();
        await metrics?.close();
        for (const r of [...extra, redis]) r.disconnect();
      },
    };
  } catch (e) {
    for (const r of [...extra, redis]) r.disconnect();
    throw e;
  }
}

export { PlaintextCache } from './cache';
export { Store } from './store/store';
export type { KeyRecord } from './model/record';
