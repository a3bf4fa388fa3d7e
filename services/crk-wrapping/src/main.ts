#!/usr/bin/env node
// crk-wrapping service. Environment:
//   WRAPPING_ADDR            bind address (default 0.0.0.0:7002)
//   WRAPPING_TLS_DIR         ca.crt, crk-wrapping.crt, crk-wrapping.key (mTLS)
//   WRAPPING_INSECURE=true   serve plaintext gRPC when WRAPPING_TLS_DIR is unset (dev only)
//   KEYWARDEN_MASTER_KEY     base64 of 32 bytes, or KEYWARDEN_MASTER_KEY_FILE (raw 32 bytes or base64)
//   METRICS_PORT             Prometheus /metrics (default 9403), on METRICS_HOST (default 0.0.0.0)
//   HEALTH_ADDR              plaintext gRPC health for probes without a client certificate (default 0.0.0.0:9413)
//   WRAPPING_BREAKER_* WRAPPING_RETRY_* WRAPPING_CALL_TIMEOUT_MS   see docs/crk-wrapping.md
//   WRAPPING_ALLOW_HTTP  WRAPPING_PROVIDER_CA_FILE  WRAPPING_PKCS11_MODULES  WRAPPING_PKCS11_SESSIONS
//   WRAPPING_PROVIDER_HOSTS  allowed Key Protect/HPCS/IAM hosts (default: IBM's endpoints)
//   WRAPPING_CREDENTIALS_DIR the only directory credential_ref file: may read (unset: file: refused)
import fs from 'fs';
import { ConfigError, createLogger, envBool, envInt, envOptional, envString, loadTlsFiles } from '@keywarden/common';
import { allowHttpFromEnv, credentialsDirFromEnv, providerHostsFromEnv, resilienceFromEnv } from './config';
import { DEFAULT_PKCS11_MODULES } from './providers/registry';
import { startCrkWrapping } from './server';

function masterKey(): Buffer {
  const inline = envOptional('KEYWARDEN_MASTER_KEY');
  const file = envOptional('KEYWARDEN_MASTER_KEY_FILE');
  if (inline && file) throw new ConfigError('set KEYWARDEN_MASTER_KEY or KEYWARDEN_MASTER_KEY_FILE, not both');
  let key: Buffer;
  if (inline) {
    key = Buffer.from(inline.trim(), 'base64');
  } else if (file) {
    const raw = fs.readFileSync(file);
    key = raw.length === 32 ? raw : Buffer.from(raw.toString('utf8').trim(), 'base64');
  } else {
    throw new ConfigError('KEYWARDEN_MASTER_KEY (base64 of 32 bytes) or KEYWARDEN_MASTER_KEY_FILE is required');
  }
  if (key.length !== 32) throw new ConfigError('the master key must be 32 bytes (base64 of 32 bytes)');
  return key;
}

async function main(): Promise<void> {
  const log = createLogger('crk-wrapping');
  const tlsDir = envOptional('WRAPPING_TLS_DIR');
  if (!tlsDir && !envBool('WRAPPING_INSECURE', false)) {
    throw new ConfigError('WRAPPING_TLS_DIR is required (set WRAPPING_INSECURE=true to serve plaintext gRPC in development)');
  }
  const caFile = envOptional('WRAPPING_PROVIDER_CA_FILE');
  const modules = envOptional('WRAPPING_PKCS11_MODULES');
  const svc = await startCrkWrapping({
    address: envString('WRAPPING_ADDR', '0.0.0.0:7002'),
    tls: tlsDir ? loadTlsFiles(tlsDir, 'crk-wrapping') : undefined,
    masterKey: masterKey(),
    metricsPort: envInt('METRICS_PORT', 9403, 0, 65535),
    metricsHost: envString('METRICS_HOST', '0.0.0.0'),
    healthAddress: envString('HEALTH_ADDR', '0.0.0.0:9413'),
    logger: log,
    ...resilienceFromEnv(),
    allowHttp: allowHttpFromEnv(),
    providerHosts: providerHostsFromEnv(),
    credentialsDir: credentialsDirFromEnv(),
    providerCa: caFile ? fs.readFileSync(caFile) : undefined,
    pkcs11Modules: modules ? modules.split(':').filter(Boolean) : DEFAULT_PKCS11_MODULES,
    pkcs11Sessions: envInt('WRAPPING_PKCS11_SESSIONS', 4, 1, 256),
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    svc.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`crk-wrapping: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
