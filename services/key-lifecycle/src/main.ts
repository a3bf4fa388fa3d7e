// key-lifecycle entry point: configuration from the environment
// (docs/key-lifecycle.md, "Configuration").
//   Redis: REDIS_SENTINELS (host:port,...; wins over REDIS_URL), REDIS_SENTINEL_MASTER (mymaster),
//     REDIS_URL (redis://127.0.0.1:6379), REDIS_PASSWORD or REDIS_PASSWORD_FILE,
//     REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE
//   HEALTH_ADDR (0.0.0.0:9412): plaintext gRPC health, NOT_SERVING while Redis is unreachable
//   METRICS_PORT (9402), METRICS_HOST (0.0.0.0)
//   LIFECYCLE_CACHE_TTL_MS (30000; 0 = strict mode, every Get asks the provider),
//     LIFECYCLE_CACHE_MAX_ENTRIES (100000): the key cache
//   LIFECYCLE_UNWRAP_CONCURRENCY (16), LIFECYCLE_UNWRAP_QUEUE (1000): unwrap calls per tenant in flight, and waiting
//   REDIS_CLUSTER_NODES (host:port,...; wins over REDIS_SENTINELS and REDIS_URL): Redis Cluster's seed nodes
//   LIFECYCLE_QUOTA_OBJECTS (200000), LIFECYCLE_QUOTA_ATTRIBUTE_BYTES (67108864),
//     LIFECYCLE_QUOTA_OBJECT_CUSTOM_BYTES (65536): default quotas of a tenant
//   LIFECYCLE_AUDIT_MAX_ENTRIES (1000000), LIFECYCLE_AUDIT_RETENTION_DAYS (30; 0 = by length only): audit stream trim
import { createLogger, envBool, envInt, envOptional, envString, loadTlsFiles } from '@keywarden/common';
import { DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_TTL_MS, DEFAULT_QUOTA, DEFAULT_UNWRAP_LIMITS, startKeyLifecycle } from './index';
import { MAX_QUOTA } from './model/quota';
import { redisTargetFromEnv } from './redis-connection';
import { parseClusterNodes } from './store/cluster';

/** Redis Cluster when REDIS_CLUSTER_NODES is set, else a URL or Sentinels. */
function redisTarget() {
  const nodes = envOptional('REDIS_CLUSTER_NODES');
  if (nodes === undefined) return redisTargetFromEnv();
  const fromEnv = redisTargetFromEnv();
  return { cluster: parseClusterNodes(nodes), password: fromEnv.password };
}

async function main(): Promise<void> {
  const log = createLogger('key-lifecycle');
  const insecure = envBool('LIFECYCLE_INSECURE', false);
  const tlsDir = envOptional('LIFECYCLE_TLS_DIR');
  if (!insecure && !tlsDir) throw new Error('LIFECYCLE_TLS_DIR is required (ca.crt, key-lifecycle.crt, key-lifecycle.key); set LIFECYCLE_INSECURE=true for plain gRPC in development');
  const tls = insecure ? undefined : loadTlsFiles(tlsDir as string, 'key-lifecycle');
  if (envOptional('REDIS_SENTINELS') && envOptional('REDIS_URL')) log.info('REDIS_SENTINELS is set: REDIS_URL is ignored');
  const svc = await startKeyLifecycle({
    address: envString('LIFECYCLE_ADDR', '0.0.0.0:7001'),
    tls,
    redis: redisTarget(),
    healthAddress: envString('HEALTH_ADDR', '0.0.0.0:9412'),
    wrappingAddress: envString('WRAPPING_ADDR', '127.0.0.1:7002'),
    wrappingTls: tls,
    logger: log,
    metricsPort: envInt('METRICS_PORT', 9402, 0, 65535),
    metricsHost: envString('METRICS_HOST', '0.0.0.0'),
    durability: {
      waitReplicas: envInt('REDIS_WAIT_REPLICAS', 0, 0, 16),
      waitTimeoutMs: envInt('REDIS_WAIT_TIMEOUT_MS', 1000, 1, 60_000),
    },
    cacheTtlMs: envInt('LIFECYCLE_CACHE_TTL_MS', DEFAULT_CACHE_TTL_MS, 0, 3_600_000),
    cacheMaxEntries: envInt('LIFECYCLE_CACHE_MAX_ENTRIES', DEFAULT_CACHE_MAX_ENTRIES, 1, 10_000_000),
    unwrapConcurrency: envInt('LIFECYCLE_UNWRAP_CONCURRENCY', DEFAULT_UNWRAP_LIMITS.concurrency, 1, 1024),
    unwrapQueue: envInt('LIFECYCLE_UNWRAP_QUEUE', DEFAULT_UNWRAP_LIMITS.queue, 0, 100_000),
    quotas: {
      objects: envInt('LIFECYCLE_QUOTA_OBJECTS', DEFAULT_QUOTA.objects, 1, MAX_QUOTA.objects),
      attributeBytes: envInt('LIFECYCLE_QUOTA_ATTRIBUTE_BYTES', DEFAULT_QUOTA.attributeBytes, 1, MAX_QUOTA.attributeBytes),
      objectCustomBytes: envInt('LIFECYCLE_QUOTA_OBJECT_CUSTOM_BYTES', DEFAULT_QUOTA.objectCustomBytes, 1, MAX_QUOTA.objectCustomBytes),
    },
    auditMaxLen: envInt('LIFECYCLE_AUDIT_MAX_ENTRIES', 1_000_000, 1000, 100_000_000),
    auditRetentionMs: envInt('LIFECYCLE_AUDIT_RETENTION_DAYS', 30, 0, 3650) * 86_400_000,
  });
  const stop = () => {
    log.info('shutting down');
    svc.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  createLogger('key-lifecycle').fatal({ err }, 'key-lifecycle failed to start');
  process.exit(1);
});
