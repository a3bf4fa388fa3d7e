import { prom } from '@keywarden/common';

// Metric names and labels are documented in docs/crk-wrapping.md. Labels never
// carry tenants, uids, key ids or anything secret.

export type BreakerState = 'closed' | 'half-open' | 'open';
const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class WrappingMetrics {
  readonly calls: prom.Counter<'provider' | 'op' | 'result'>;
  readonly latency: prom.Histogram<'provider' | 'op'>;
  readonly requests: prom.Counter<'provider' | 'status'>;
  readonly retries: prom.Counter<'provider' | 'cause'>;
  readonly breakerState: prom.Gauge<'breaker'>;
  readonly breakerTransitions: prom.Counter<'breaker' | 'state'>;
  readonly tokenRefreshes: prom.Counter<'result'>;

  constructor(readonly registry: prom.Registry) {
    const registers = [registry];
    this.calls = new prom.Counter({
      name: 'crk_wrapping_calls_total',
      help: 'Wrapping operations by provider kind, operation and result (ok or the gRPC status name)',
      labelNames: ['provider', 'op', 'result'],
      registers,
    });
    this.latency = new prom.Histogram({
      name: 'crk_wrapping_call_duration_seconds',
      help: 'Duration of wrapping operations, provider calls included',
      labelNames: ['provider', 'op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.requests = new prom.Counter({
      name: 'crk_wrapping_provider_requests_total',
      help: 'Provider HTTP requests (or HSM calls) by status: HTTP status, "network", "timeout" or "hsm_error"',
      labelNames: ['provider', 'status'],
      registers,
    });
    this.retries = new prom.Counter({
      name: 'crk_wrapping_retries_total',
      help: 'Retries of idempotent provider calls by cause',
      labelNames: ['provider', 'cause'],
      registers,
    });
    this.breakerState = new prom.Gauge({
      name: 'crk_wrapping_breaker_state',
      help: 'Circuit breaker state per provider endpoint and instance: 0 closed, 1 half-open, 2 open',
      labelNames: ['breaker'],
      registers,
    });
    this.breakerTransitions = new prom.Counter({
      name: 'crk_wrapping_breaker_transitions_total',
      help: 'Circuit breaker state changes',
      labelNames: ['breaker', 'state'],
      registers,
    });
    this.tokenRefreshes = new prom.Counter({
      name: 'crk_wrapping_iam_token_refreshes_total',
      help: 'IAM access token requests by result',
      labelNames: ['result'],
      registers,
    });
  }

  setBreaker(breaker: string, state: BreakerState): void {
    this.breakerState.set({ breaker }, STATE_VALUE[state]);
    this.breakerTransitions.inc({ breaker, state });
  }
}
