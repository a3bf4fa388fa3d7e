import { execFileSync } from 'child_process';
import { randomUUID } from 'crypto';
import fs from 'fs';
import { createLogger, grpc } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { DEFAULT_RESILIENCE, ResilienceConfig } from '../src/config';
import { WrappingMetrics } from '../src/metrics';
import { DEFAULT_PKCS11_MODULES, ProviderRegistry } from '../src/providers/registry';
import type { CallContext } from '../src/providers/types';
import { prom } from '@keywarden/common';

export const log = createLogger('crk-wrapping-test');
export const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';

/** Fast settings for tests: small breaker volume, short reset, short backoff. */
export const TEST_RESILIENCE: ResilienceConfig = {
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 4, windowMs: 10_000, resetTimeoutMs: 400 },
  retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 50 },
  callTimeoutMs: 1_000,
};

/**
 * Provider hosts of these tests: their emulators listen on loopback, on ports
 * picked when they start (a service's own stack lists exactly host:port).
 */
export const TEST_PROVIDER_HOSTS = ['127.0.0.1'];

export function registry(resilience: Partial<ResilienceConfig> = {}, providerHosts: string[] = TEST_PROVIDER_HOSTS): { providers: ProviderRegistry; metrics: WrappingMetrics } {
  const metrics = new WrappingMetrics(new prom.Registry());
  const providers = new ProviderRegistry({
    resilience: { ...DEFAULT_RESILIENCE, ...TEST_RESILIENCE, ...resilience },
    log,
    metrics,
    allowHttp: false,
    providerHosts,
    pkcs11Modules: DEFAULT_PKCS11_MODULES,
    pkcs11Sessions: 2,
  });
  return { providers, metrics };
}

export function kpProvider(url: string, instanceId: string, crkId = '', kind: 'keyprotect' | 'hpcs' = 'keyprotect'): wrappingV1.Provider {
  return {
    kind: kind === 'hpcs' ? wrappingV1.ProviderKind.PROVIDER_KIND_HPCS : wrappingV1.ProviderKind.PROVIDER_KIND_KEYPROTECT,
    endpoint: url,
    iamEndpoint: url,
    instanceId,
    crkId,
    credentialRef: 'env:UNUSED',
  };
}

/** A fresh service instance, created in the emulator (which refuses instances nobody created). */
export function newInstance(emu: { createInstance(id: string): void }): string {
  const id = randomUUID();
  emu.createInstance(id);
  return id;
}

export function ctx(crkId: string, credential: string, deadlineMs = 5_000): CallContext {
  return { crkId, credential, deadline: Date.now() + deadlineMs, log };
}

/** Resolves the WrappingError a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<{ code: number; reason: string; message: string; kmipReason?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code: number; reason: string; message: string; kmipReason?: number };
    return { code: err.code, reason: err.reason, message: err.message, kmipReason: err.kmipReason };
  }
  throw new Error('expected a failure');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Initializes a SoftHSM2 token in the directory test/softhsm-setup.ts made
 * (SOFTHSM2_CONF of this process); labels must differ between test files.
 */
export function softhsmToken(label: string, pin: string): void {
  const conf = process.env.SOFTHSM2_CONF;
  if (!conf || !fs.existsSync(conf)) throw new Error('SOFTHSM2_CONF is not set: run these tests through jest (test/softhsm-setup.ts)');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '0000', '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' });
}

/** The gRPC error a call failed with (the test fails if it succeeded). */
export async function grpcFailure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected a failure');
}
