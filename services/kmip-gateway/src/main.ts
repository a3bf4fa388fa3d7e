#!/usr/bin/env node
// kmip-gateway process: configuration from the environment.
//   KMIP_PORT (5696), KMIP_HOST (0.0.0.0)
//   GATEWAY_TLS_DIR: server.crt/server.key for KMIP clients; ca.crt (the
//     internal CA) and kmip-gateway.crt/.key for mTLS to key-lifecycle, or
//     those three in GATEWAY_INTERNAL_TLS_DIR
//   KMIP_TRUST_MODE fingerprint|ca (fingerprint), KMIP_CLIENT_CA (PEM file, ca mode)
//   KMIP_CIPHERS, KMIP_MIN_TLS (TLSv1.2), KMIP_MAX_MESSAGE_BYTES (1048576), KMIP_MAX_BATCH_ITEMS (256)
//   KMIP_HANDSHAKE_TIMEOUT_MS (10000), KMIP_READ_TIMEOUT_MS (10000),
//   KMIP_IDLE_TIMEOUT_MS (300000), KMIP_MAX_CONNECTIONS (20000),
//   KMIP_MAX_CONNECTIONS_PER_SOURCE (5000: per IPv4 address or IPv6 /64),
//   KMIP_UNREGISTERED_TIMEOUT_MS (5000: an unregistered certificate's silent connection is closed after it; 0 never)
//   KMIP_DRAIN_TIMEOUT_MS (10000: on SIGTERM, connections still open after it are cut)
//   LIFECYCLE_ADDR (127.0.0.1:7001; dns:///name:port for round robin), LIFECYCLE_DEADLINE_MS (10000)
//   LIFECYCLE_TRANSPORT stream|unary (stream: requests multiplexed over Relay streams, at least LIFECYCLE_STREAMS (4);
//     LIFECYCLE_STREAM_MAX_IN_FLIGHT (512), LIFECYCLE_STREAM_MAX_AGE_MS (300000), LIFECYCLE_STREAM_MAX_REQUESTS (100000))
//   KMIP_IDENTITY_CACHE_ENTRIES (10000; 0 = off): certificates key-lifecycle confirmed, kept while the revocation stream is up
//   METRICS_PORT (9401), METRICS_HOST (0.0.0.0), HEALTH_ADDR (0.0.0.0:9411, gRPC health reflecting key-lifecycle)
//   GATEWAY_INSECURE_BACKEND=true: plain gRPC to key-lifecycle (local only)
import fs from 'fs';
import path from 'path';
import tls from 'tls';
import {
  channelCredentials, checkHealth, createHealth, createLogger, envBool, envInt, envOptional, envString, loadTlsFiles, setServing,
  startHealthServer,
} from '@keywarden/common';
import { grpcLifecycleBackend, transportFromEnv, withIdentityCache } from './backend';
import { DEFAULT_MAX_BATCH_ITEMS } from './dispatch';
import { DEFAULT_MAX_CONNECTIONS_PER_SOURCE, TrustMode, startGateway } from './server';

/** The gateway's name in its health service (besides '', the whole process). */
const HEALTH_SERVICE = 'keywarden.kmip.gateway';

async function main(): Promise<void> {
  const log = createLogger('kmip-gateway');
  const tlsDir = envString('GATEWAY_TLS_DIR', './var/pki');
  const insecureBackend = envBool('GATEWAY_INSECURE_BACKEND', false);
  // The gateway's internal identity (role kmip-gateway) and the internal CA,
  // for mTLS to key-lifecycle; by default next to the KMIP server certificate.
  const internal = insecureBackend ? undefined : loadTlsFiles(envString('GATEWAY_INTERNAL_TLS_DIR', tlsDir), 'kmip-gateway');
  const lifecycleAddr = envString('LIFECYCLE_ADDR', '127.0.0.1:7001');
  const backend = withIdentityCache(grpcLifecycleBackend({
    ...transportFromEnv(),
    address: lifecycleAddr,
    tls: internal,
    deadlineMs: envInt('LIFECYCLE_DEADLINE_MS', 10_000, 100),
    onWatchError: (err) => log.warn({ err: err.message }, 'revocation stream from key-lifecycle broke; reconnecting'),
    log,
  }), { maxEntries: envInt('KMIP_IDENTITY_CACHE_ENTRIES', 10_000, 0) });
  const drainMs = envInt('KMIP_DRAIN_TIMEOUT_MS', 10_000, 0);
  const trustMode = envString('KMIP_TRUST_MODE', 'fingerprint') as TrustMode;
  if (trustMode !== 'fingerprint' && trustMode !== 'ca') throw new Error('KMIP_TRUST_MODE must be fingerprint or ca');
  const clientCa = envOptional('KMIP_CLIENT_CA');
  const gw = await startGateway({
    port: envInt('KMIP_PORT', 5696, 0, 65535),
    host: envString('KMIP_HOST', '0.0.0.0'),
    cert: fs.readFileSync(path.join(tlsDir, 'server.crt')),
    key: fs.readFileSync(path.join(tlsDir, 'server.key')),
    trustMode,
    clientCa: clientCa ? fs.readFileSync(clientCa) : undefined,
    ciphers: envOptional('KMIP_CIPHERS'),
    minVersion: envString('KMIP_MIN_TLS', 'TLSv1.2') as tls.SecureVersion,
    backend,
    maxMessageSize: envInt('KMIP_MAX_MESSAGE_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxBatchItems: envInt('KMIP_MAX_BATCH_ITEMS', DEFAULT_MAX_BATCH_ITEMS, 1, 100_000),
    handshakeTimeoutMs: envInt('KMIP_HANDSHAKE_TIMEOUT_MS', 10_000, 100),
    readTimeoutMs: envInt('KMIP_READ_TIMEOUT_MS', 10_000, 100),
    idleTimeoutMs: envInt('KMIP_IDLE_TIMEOUT_MS', 300_000, 1000),
    maxConnections: envInt('KMIP_MAX_CONNECTIONS', 20_000, 1),
    maxConnectionsPerSource: envInt('KMIP_MAX_CONNECTIONS_PER_SOURCE', DEFAULT_MAX_CONNECTIONS_PER_SOURCE, 1),
    unregisteredTimeoutMs: envInt('KMIP_UNREGISTERED_TIMEOUT_MS', 5000, 0),
    logger: log,
    metricsPort: envInt('METRICS_PORT', 9401, 0, 65535),
    metricsHost: envString('METRICS_HOST', '0.0.0.0'),
  });

  // gRPC health for probes: SERVING while key-lifecycle answers its own health check.
  const health = createHealth({ '': 'NOT_SERVING', [HEALTH_SERVICE]: 'NOT_SERVING' });
  const healthServer = await startHealthServer(envString('HEALTH_ADDR', '0.0.0.0:9411'), health);
  const probe = async () => {
    let serving = false;
    try {
      serving = (await checkHealth(lifecycleAddr, channelCredentials(internal))) === 'SERVING';
    } catch {
      serving = false;
    }
    setServing(health, [HEALTH_SERVICE], serving);
  };
  await probe();
  const probeTimer = setInterval(() => void probe(), 5000);
  probeTimer.unref();

  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down: draining connections');
    clearInterval(probeTimer);
    await gw.close(drainMs);
    healthServer.close();
    backend.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  console.error(`kmip-gateway: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
