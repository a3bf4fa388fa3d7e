import CircuitBreaker from 'opossum';
import type { BreakerConfig } from '../config';
import { WrappingError } from '../errors';
import type { BreakerState, WrappingMetrics } from '../metrics';

/**
 * An opossum breaker around one provider endpoint (and instance). Only outage
 * errors count as failures (isOutage); definitive answers such as 404 or a
 * wrong PIN do not. Open: every call fails at once with UNAVAILABLE, until
 * resetTimeoutMs lets one probe through (half-open); its success closes the
 * breaker, its failure opens it again.
 */
export class Breaker {
  private readonly cb: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private openedAt = 0;

  constructor(
    readonly name: string,
    private readonly cfg: BreakerConfig,
    isOutage: (e: unknown) => boolean,
    metrics?: WrappingMetrics,
  ) {
    this.cb = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
      name,
      timeout: false, // each call carries its own timeout
      errorThresholdPercentage: cfg.errorThresholdPercentage,
      volumeThreshold: cfg.volumeThreshold,
      rollingCountTimeout: cfg.windowMs,
      rollingCountBuckets: 10,
      resetTimeout: cfg.resetTimeoutMs,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (e: unknown) => !isOutage(e),
    });
    const report = (s: BreakerState) => metrics?.setBreaker(name, s);
    this.cb.on('open', () => { this.openedAt = Date.now(); report('open'); });
    this.cb.on('halfOpen', () => report('half-open'));
    this.cb.on('close', () => report('closed'));
    metrics?.breakerState.set({ breaker: name }, 0);
  }

  get state(): BreakerState {
    return this.cb.opened ? 'open' : this.cb.halfOpen ? 'half-open' : 'closed';
  }

  /** Runs fn through the breaker; an open breaker throws BREAKER_OPEN without calling it. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.cb.fire(fn)) as T;
    } catch (e) {
      if ((e as { code?: unknown }).code === 'EOPENBREAKER') {
        const probeIn = Math.max(0, this.openedAt + this.cfg.resetTimeoutMs - Date.now());
        throw new WrappingError(
          'BREAKER_OPEN',
          `${this.name} is failing: its circuit breaker is open after repeated outages, so calls fail fast` +
            (this.cb.halfOpen ? ' while one probe call is in flight' : `; the next probe is in ${probeIn} ms`),
        );
      }
      throw e;
    }
  }

  shutdown(): void {
    this.cb.shutdown();
  }
}
