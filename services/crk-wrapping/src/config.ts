import { ConfigError, envBool, envInt, envOptional } from '@keywarden/common';
import { DEFAULT_PROVIDER_HOSTS, HostAllowList } from './providers/keyprotect/hosts';

/** One opossum breaker per provider endpoint and instance (docs/crk-wrapping.md). */
export interface BreakerConfig {
  /** Error percentage over the window at which the breaker opens. */
  errorThresholdPercentage: number;
  /** Calls needed in the window before the breaker may open. */
  volumeThreshold: number;
  /** Length of the rolling window. */
  windowMs: number;
  /** Time open before one probe call is let through (half-open). */
  resetTimeoutMs: number;
}

export interface RetryConfig {
  /** Attempts per idempotent call, the first included. */
  maxAttempts: number;
  /** First backoff; doubles per attempt, with full jitter. */
  baseDelayMs: number;
  /** Cap on one backoff, and on a Retry-After the service asks for. */
  maxDelayMs: number;
}

export interface ResilienceConfig {
  breaker: BreakerConfig;
  retry: RetryConfig;
  /** Timeout of one provider HTTP request or HSM call. */
  callTimeoutMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceConfig = {
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, windowMs: 10_000, resetTimeoutMs: 5_000 },
  retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2_000 },
  callTimeoutMs: 3_000,
};

/** Reads the WRAPPING_BREAKER_*, WRAPPING_RETRY_* and WRAPPING_CALL_TIMEOUT_MS variables. */
export function resilienceFromEnv(): ResilienceConfig {
  const d = DEFAULT_RESILIENCE;
  return {
    breaker: {
      errorThresholdPercentage: envInt('WRAPPING_BREAKER_ERROR_PERCENT', d.breaker.errorThresholdPercentage, 1, 100),
      volumeThreshold: envInt('WRAPPING_BREAKER_VOLUME_THRESHOLD', d.breaker.volumeThreshold, 1, 10_000),
      windowMs: envInt('WRAPPING_BREAKER_WINDOW_MS', d.breaker.windowMs, 100, 3_600_000),
      resetTimeoutMs: envInt('WRAPPING_BREAKER_RESET_MS', d.breaker.resetTimeoutMs, 10, 3_600_000),
    },
    retry: {
      maxAttempts: envInt('WRAPPING_RETRY_MAX_ATTEMPTS', d.retry.maxAttempts, 1, 10),
      baseDelayMs: envInt('WRAPPING_RETRY_BASE_MS', d.retry.baseDelayMs, 1, 60_000),
      maxDelayMs: envInt('WRAPPING_RETRY_MAX_DELAY_MS', d.retry.maxDelayMs, 1, 60_000),
    },
    callTimeoutMs: envInt('WRAPPING_CALL_TIMEOUT_MS', d.callTimeoutMs, 10, 120_000),
  };
}

/** Plain http:// to a non-loopback provider only when explicitly allowed (local stacks). */
export function allowHttpFromEnv(): boolean {
  return envBool('WRAPPING_ALLOW_HTTP', false);
}

/**
 * WRAPPING_PROVIDER_HOSTS: comma-separated host patterns (host[:port],
 * *.domain[:port], IP addresses exactly; "default" stands for IBM's
 * endpoints) that Key Protect, HPCS and IAM URLs must match. Unset: IBM's.
 */
export function providerHostsFromEnv(): string[] {
  const v = envOptional('WRAPPING_PROVIDER_HOSTS');
  if (v === undefined) return [...DEFAULT_PROVIDER_HOSTS];
  const hosts = v.split(',').map((h) => h.trim()).filter(Boolean);
  try {
    void new HostAllowList(hosts);
  } catch (e) {
    throw new ConfigError(`WRAPPING_PROVIDER_HOSTS: ${(e as Error).message}`);
  }
  return hosts;
}

/** WRAPPING_CREDENTIALS_DIR: the only directory credential_ref file: may name files in; unset: file: is refused. */
export function credentialsDirFromEnv(): string | undefined {
  const dir = envOptional('WRAPPING_CREDENTIALS_DIR');
  if (dir !== undefined && !dir.startsWith('/')) throw new ConfigError(`WRAPPING_CREDENTIALS_DIR must be an absolute path, got "${dir}"`);
  return dir;
}
