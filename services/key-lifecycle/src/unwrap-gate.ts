import { grpc, prom, ServiceError } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';

// How Gets that miss the key cache reach the root-key provider. A provider
// answering slowly must not pile up work here, and many Gets of one key at
// once (1,000 ESXi hosts rebooting ask for the same few keys) must not each
// unwrap it:
//   - per tenant, at most `concurrency` unwrap calls in flight and `queue`
//     more waiting, in order; beyond that a Get fails at once with
//     UNAVAILABLE (KMIP Server Limit Exceeded), and one that waited
//     `queueTimeoutMs` for its turn fails the same way;
//   - Gets of the same key (same tag) while its unwrap is in flight share that
//     one call; each gets its own copy of the key, and the call's buffer is
//     zeroed once every one of them has its copy.

export interface UnwrapLimits {
  /** Unwrap calls in flight per tenant. */
  concurrency: number;
  /** Unwraps waiting for a turn per tenant; 0 = none wait. */
  queue: number;
  /** Longest wait for a turn. */
  queueTimeoutMs: number;
}

export const DEFAULT_UNWRAP_LIMITS: UnwrapLimits = { concurrency: 16, queue: 1000, queueTimeoutMs: 10_000 };

interface Waiter {
  go(): void;
  timer: NodeJS.Timeout;
}

interface Lane {
  active: number;
  /** Insertion order is turn order; a waiter that gives up leaves from the middle. */
  waiting: Set<Waiter>;
}

interface Flight {
  consumers: number;
  done: Promise<Buffer>;
}

export class UnwrapGate {
  private readonly lanes = new Map<string, Lane>();
  private readonly flights = new Map<string, Flight>();
  readonly limits: UnwrapLimits;
  /** Counters for metrics. */
  readonly stats = { coalesced: 0, rejected: 0, timedOut: 0 };

  constructor(limits: Partial<UnwrapLimits> = {}) {
    this.limits = { ...DEFAULT_UNWRAP_LIMITS, ...limits };
    if (!Number.isInteger(this.limits.concurrency) || this.limits.concurrency < 1) throw new Error('unwrap concurrency must be at least 1');
    if (!Number.isInteger(this.limits.queue) || this.limits.queue < 0) throw new Error('the unwrap queue cannot be negative');
  }

  /** Unwrap calls in flight, all tenants. */
  get inFlight(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.active;
    return n;
  }

  /** Unwraps waiting for a turn, all tenants. */
  get queued(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.waiting.size;
    return n;
  }

  /**
   * Runs `unwrap` within the tenant's limits, or joins the call for the same
   * `key` already in flight. Every caller gets its own copy of the result.
   */
  async shared(tenant: string, key: string, unwrap: () => Promise<Buffer>): Promise<Buffer> {
    let f = this.flights.get(key);
    if (f) {
      this.stats.coalesced++;
    } else {
      // Removed from the map before anyone sees the result: a caller that
      // comes later starts a call of its own instead of joining a finished one.
      const done = this.limited(tenant, unwrap).finally(() => this.flights.delete(key));
      f = { consumers: 0, done };
      this.flights.set(key, f);
    }
    f.consumers++;
    const plaintext = await f.done;
    const copy = Buffer.from(plaintext);
    if (--f.consumers === 0) plaintext.fill(0);
    return copy;
  }

  /** Runs `fn` once the tenant has a free unwrap slot (see UnwrapLimits). */
  async limited<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(tenant);
    try {
      return await fn();
    } finally {
      this.release(tenant);
    }
  }

  private acquire(tenant: string): Promise<void> | void {
    let lane = this.lanes.get(tenant);
    if (!lane) {
      lane = { active: 0, waiting: new Set() };
      this.lanes.set(tenant, lane);
    }
    if (lane.active < this.limits.concurrency) {
      lane.active++;
      return;
    }
    if (lane.waiting.size >= this.limits.queue) {
      this.stats.rejected++;
      throw new ServiceError(grpc.status.UNAVAILABLE,
        `unwrapping the key: ${lane.active} keys of this tenant are being unwrapped by its key provider and ${lane.waiting.size} more are waiting, ` +
        'the most key-lifecycle lets wait; retry later', ResultReason.ServerLimitExceeded);
    }
    const l = lane;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        go: resolve,
        timer: setTimeout(() => {
          l.waiting.delete(w);
          this.stats.timedOut++;
          reject(new ServiceError(grpc.status.UNAVAILABLE,
            `unwrapping the key: waited ${this.limits.queueTimeoutMs} ms for a turn; the key provider is answering slowly; retry later`, ResultReason.ServerLimitExceeded));
        }, this.limits.queueTimeoutMs),
      };
      // A wait never keeps a stopping process alive.
      w.timer.unref();
      l.waiting.add(w);
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  private release(tenant: string): void {
    const lane = this.lanes.get(tenant);
    if (!lane) return;
    const next = lane.waiting.values().next().value as Waiter | undefined;
    if (next) {
      lane.waiting.delete(next);
      clearTimeout(next.timer);
      next.go();
      return;
    }
    lane.active--;
    if (lane.active === 0) this.lanes.delete(tenant);
  }
}

/** Unwrap gate metrics. */
export function registerUnwrapMetrics(registry: prom.Registry, gate: UnwrapGate): void {
  new prom.Gauge({
    name: 'keywarden_lifecycle_unwraps_in_flight', help: 'Unwrap calls to crk-wrapping in flight', registers: [registry],
    collect() { this.set(gate.inFlight); },
  });
  new prom.Gauge({
    name: 'keywarden_lifecycle_unwraps_waiting', help: 'Unwraps waiting for a turn (per-tenant concurrency bound)', registers: [registry],
    collect() { this.set(gate.queued); },
  });
  // Totals kept by the gate, reported when scraped.
  new prom.Counter({
    name: 'keywarden_lifecycle_unwraps_refused_total', help: 'Gets refused before unwrapping: queue full, or waited too long for a turn',
    labelNames: ['cause'], registers: [registry],
    collect() {
      this.reset();
      this.inc({ cause: 'queue_full' }, gate.stats.rejected);
      this.inc({ cause: 'queue_timeout' }, gate.stats.timedOut);
    },
  });
  new prom.Counter({
    name: 'keywarden_lifecycle_unwraps_coalesced_total', help: 'Gets that shared an unwrap already in flight for the same key', registers: [registry],
    collect() {
      this.reset();
      this.inc(gate.stats.coalesced);
    },
  });
}
