import {
  addHealth, bindServer, createLogger, guardUnary, createRegistry, grpc, HealthServer, Logger, MetricsServer, serverCredentials, serverOptions, setServing, shutdownServer,
  startHealthServer, startMetricsServer, TlsFiles, unary,
} from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { BreakerConfig, DEFAULT_RESILIENCE, ResilienceConfig, RetryConfig } from './config';
import { Credentials } from './credentials';
import { badRequest, isWrappingError } from './errors';
import { generateKey } from './keygen';
import { WrappingMetrics } from './metrics';
import { DEFAULT_PROVIDER_HOSTS } from './providers/keyprotect/hosts';
import { DEFAULT_PKCS11_MODULES, ProviderRegistry } from './providers/registry';
import type { CallContext, KeyContext, WrapProvider } from './providers/types';

export interface CrkWrappingOptions {
  /** host:port to bind, e.g. "127.0.0.1:0". */
  address: string;
  /** mTLS (client certificates required) when given; plaintext otherwise. */
  tls?: TlsFiles;
  /** 32 bytes; seals provider credentials (SealCredential). */
  masterKey: Buffer;
  /** Serve Prometheus metrics on this port (0 picks one); none when absent. */
  metricsPort?: number;
  /** Address the metrics port binds (default 0.0.0.0). */
  metricsHost?: string;
  /** Plaintext gRPC health (nothing else) on this host:port, for probes without a client certificate; none when absent. */
  healthAddress?: string;
  logger?: Logger;
  breaker?: Partial<BreakerConfig>;
  retry?: Partial<RetryConfig>;
  /** Timeout of one provider request or HSM call. */
  callTimeoutMs?: number;
  /** Plain http to non-loopback provider endpoints (local stacks only). */
  allowHttp?: boolean;
  /**
   * Host patterns Key Protect, HPCS and IAM URLs must match (default
   * DEFAULT_PROVIDER_HOSTS, IBM's endpoints; a test stack lists its emulator's host:port).
   */
  providerHosts?: readonly string[];
  /** The only directory credential_ref file: may resolve into; file: references are refused without one. */
  credentialsDir?: string;
  /** Extra CA (PEM) for provider HTTPS. */
  providerCa?: Buffer;
  /** PKCS#11 module paths a request may name (default: SoftHSM2's usual paths). */
  pkcs11Modules?: string[];
  /** Sessions per HSM token (default 4). */
  pkcs11Sessions?: number;
}

export interface CrkWrapping {
  port: number;
  metricsPort?: number;
  healthPort?: number;
  /** Circuit breaker states by name (diagnostics and tests). */
  breakers(): Record<string, string>;
  close(): Promise<void>;
}

const SERVICE_NAME = 'keywarden.wrapping.v1.CrkWrapping';
const MAX_PLAINTEXT = 4096;
/** Key Protect accepts AAD strings of up to 255 characters. */
const MAX_CONTEXT = 255;

/** Starts the crk-wrapping gRPC service. */
export async function startCrkWrapping(opts: CrkWrappingOptions): Promise<CrkWrapping> {
  const log = opts.logger ?? createLogger('crk-wrapping');
  const resilience: ResilienceConfig = {
    breaker: { ...DEFAULT_RESILIENCE.breaker, ...opts.breaker },
    retry: { ...DEFAULT_RESILIENCE.retry, ...opts.retry },
    callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_RESILIENCE.callTimeoutMs,
  };
  const credentials = new Credentials(opts.masterKey, { dir: opts.credentialsDir, log });
  const providerHosts = opts.providerHosts ?? DEFAULT_PROVIDER_HOSTS;
  const registry = createRegistry('crk-wrapping');
  const metrics = new WrappingMetrics(registry);
  const providers = new ProviderRegistry({
    resilience,
    log,
    metrics,
    allowHttp: opts.allowHttp ?? false,
    providerHosts,
    providerCa: opts.providerCa,
    pkcs11Modules: opts.pkcs11Modules ?? DEFAULT_PKCS11_MODULES,
    pkcs11Sessions: opts.pkcs11Sessions ?? 4,
  });

  /** Resolves the provider, its credential and the deadline; times and counts the operation. */
  async function withProvider<T>(
    method: string,
    req: { provider?: wrappingV1.Provider },
    call: grpc.ServerUnaryCall<unknown, unknown>,
    key: KeyContext | undefined,
    needCrk: boolean,
    fn: (p: WrapProvider, c: CallContext) => Promise<T>,
  ): Promise<T> {
    const start = process.hrtime.bigint();
    let kind = 'unknown';
    let result = 'ok';
    try {
      const p = providers.get(req.provider);
      kind = p.kind;
      const provider = req.provider as wrappingV1.Provider;
      if (needCrk && !provider.crkId) throw badRequest('provider.crk_id is required');
      if (!provider.credentialRef) throw badRequest('provider.credential_ref is required');
      const c: CallContext = { crkId: provider.crkId, credential: await credentials.resolve(provider.credentialRef), deadline: deadlineOf(call), log };
      return await fn(p, c);
    } catch (e) {
      result = isWrappingError(e) ? grpc.status[e.code].toLowerCase() : 'internal';
      if (isWrappingError(e)) log.warn({ method, tenant: key?.tenantId, uid: key?.uid, reason: e.reason, code: grpc.status[e.code] }, e.message);
      throw e;
    } finally {
      metrics.calls.inc({ provider: kind, op: method, result });
      metrics.latency.observe({ provider: kind, op: method }, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  const impl: wrappingV1.CrkWrappingServer = {
    generateAndSeal: unary(log, 'GenerateAndSeal', async (req, call) => {
      const key = keyContext(req.context);
      return withProvider('GenerateAndSeal', req, call, key, true, async (p, c) => {
        const material = generateKey(req.algorithm, req.lengthBits);
        try {
          const s = await p.seal(c, key, material);
          return { sealedRef: s.ref, crkVersion: s.crkVersion };
        } finally {
          material.fill(0);
        }
      });
    }),

    seal: unary(log, 'Seal', async (req, call) => {
      const key = keyContext(req.context);
      if (req.plaintext.length === 0) throw badRequest('plaintext is empty');
      if (req.plaintext.length > MAX_PLAINTEXT) throw badRequest(`plaintext is longer than ${MAX_PLAINTEXT} bytes`);
      return withProvider('Seal', req, call, key, true, async (p, c) => {
        const s = await p.seal(c, key, req.plaintext);
        return { sealedRef: s.ref, crkVersion: s.crkVersion };
      });
    }),

    unseal: unary(log, 'Unseal', async (req, call) => {
      const key = keyContext(req.context);
      requireRef(req.sealedRef);
      return withProvider('Unseal', req, call, key, true, async (p, c) => {
        const u = await p.unseal(c, key, req.sealedRef);
        return {
          plaintext: u.plaintext,
          crkVersion: u.crkVersion,
          rewrappedSealedRef: u.rewrapped?.ref ?? Buffer.alloc(0),
          rewrappedCrkVersion: u.rewrapped?.crkVersion ?? '',
        };
      });
    }),

    rewrap: unary(log, 'Rewrap', async (req, call) => {
      const key = keyContext(req.context);
      requireRef(req.sealedRef);
      return withProvider('Rewrap', req, call, key, true, async (p, c) => {
        const r = await p.rewrap(c, key, req.sealedRef);
        return { sealedRef: r.sealed.ref, crkVersion: r.sealed.crkVersion, changed: r.changed };
      });
    }),

    destroySealed: unary(log, 'DestroySealed', async (req, call) => {
      const key = keyContext(req.context);
      requireRef(req.sealedRef);
      return withProvider('DestroySealed', req, call, key, false, async (p, c) => {
        await p.destroy(c, key, req.sealedRef);
        return {};
      });
    }),

    createRootKey: unary(log, 'CreateRootKey', async (req, call) => {
      if (!req.name || req.name.length > 90) throw badRequest('name is required, at most 90 characters');
      return withProvider('CreateRootKey', req, call, undefined, false, (p, c) => p.createRootKey(c, req.name));
    }),

    checkRootKey: unary(log, 'CheckRootKey', async (req, call) => withProvider('CheckRootKey', req, call, undefined, true, (p, c) => p.checkRootKey(c))),

    rotateRootKey: unary(log, 'RotateRootKey', async (req, call) =>
      withProvider('RotateRootKey', req, call, undefined, true, async (p, c) => ({ crkVersion: await p.rotateRootKey(c) }))),

    deleteRootKey: unary(log, 'DeleteRootKey', async (req, call) =>
      withProvider('DeleteRootKey', req, call, undefined, true, async (p, c) => {
        await p.deleteRootKey(c, req.force);
        return {};
      })),

    sealCredential: unary(log, 'SealCredential', async (req) => ({ credentialRef: credentials.seal(req.credential) })),
  };

  const server = new grpc.Server(serverOptions());
  // Only key-lifecycle may seal, unseal or handle root keys (docs/architecture.md, "Trust model").
  server.addService(wrappingV1.CrkWrappingService, guardUnary(impl, Boolean(opts.tls), ['key-lifecycle'], 'the CrkWrapping API'));
  const health = addHealth(server, { '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  let metricsServer: MetricsServer | undefined;
  let healthServer: HealthServer | undefined;
  let port: number;
  try {
    port = await bindServer(server, opts.address, serverCredentials(opts.tls));
    if (opts.metricsPort !== undefined) metricsServer = await startMetricsServer(registry, opts.metricsPort, opts.metricsHost);
    // The same health service, in plaintext on a port of its own.
    if (opts.healthAddress !== undefined) healthServer = await startHealthServer(opts.healthAddress, health);
  } catch (e) {
    server.forceShutdown();
    await metricsServer?.close();
    providers.close();
    throw e;
  }
  log.info({ port, tls: Boolean(opts.tls), metricsPort: metricsServer?.port, healthPort: healthServer?.port, providerHosts, credentialsDir: opts.credentialsDir ?? null }, 'crk-wrapping listening');

  return {
    port,
    metricsPort: metricsServer?.port,
    healthPort: healthServer?.port,
    breakers: () => providers.breakers(),
    close: async () => {
      setServing(health, [SERVICE_NAME], false);
      await shutdownServer(server);
      await metricsServer?.close();
      healthServer?.close();
      providers.close();
    },
  };
}

function keyContext(k: wrappingV1.KeyContext | undefined): KeyContext {
  if (!k?.tenantId || !k.uid) throw badRequest('context.tenant_id and context.uid are required');
  if (k.tenantId.length > MAX_CONTEXT || k.uid.length > MAX_CONTEXT) throw badRequest(`context.tenant_id and context.uid are at most ${MAX_CONTEXT} characters`);
  return { tenantId: k.tenantId, uid: k.uid };
}

function requireRef(ref: Buffer): void {
  if (ref.length === 0) throw badRequest('sealed_ref is empty');
}

/** The caller's deadline in epoch ms (Infinity when it set none). */
function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : Number(d);
  return Number.isFinite(ms) ? ms : Infinity;
}
