// The audit trail of KeyLifecycle and Admin operations: one entry per
// operation in the audit stream (kw:audit) and one structured log line, with
// the caller, the tenant, the object, the outcome and its KMIP reason; and the
// operation metrics (docs/key-lifecycle.md, "Audit").
import { grpc, isGrpcError, prom, ServiceError } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import { unavailable } from './errors';
import { isRedisFailure, Store } from './store/store';

/** What the audit line of one operation says. */
export interface OpContext {
  op: string;
  /** The certificate the operation acts for (set before any validation, so refusals are attributed). */
  fingerprint: string;
  tenant?: string;
  uid?: string;
  /** Further audit fields (never secrets): the operator's name, what a change touched. */
  detail?: Record<string, string>;
}

export interface CoreMetrics {
  operations: prom.Counter<'op' | 'result'>;
  duration: prom.Histogram<'op'>;
}

export function createMetrics(registry: prom.Registry): CoreMetrics {
  return {
    operations: new prom.Counter({
      name: 'keywarden_lifecycle_operations_total', help: 'KeyLifecycle and Admin operations by result',
      labelNames: ['op', 'result'], registers: [registry],
    }),
    duration: new prom.Histogram({
      name: 'keywarden_lifecycle_operation_seconds', help: 'Operation latency',
      labelNames: ['op'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: [registry],
    }),
  };
}

/** What runAudited needs of the Core. */
export interface Audited {
  readonly store: Pick<Store, 'audit'>;
  readonly log: Logger;
  readonly metrics?: CoreMetrics;
}

/**
 * Runs one operation with its audit line, audit stream entry and metrics.
 * Refusals are recorded with their gRPC status and KMIP reason; a Redis
 * failure that escaped as itself is reported as unavailable.
 */
export async function runAudited<T>(core: Audited, op: string, fn: (c: OpContext) => Promise<T>, uidOf?: (res: T) => string | undefined): Promise<T> {
  const c: OpContext = { op, fingerprint: '' };
  const start = process.hrtime.bigint();
  let result = 'ok';
  let reason: number | undefined;
  let detail: string | undefined;
  try {
    const res = await fn(c);
    if (uidOf) c.uid = uidOf(res) ?? c.uid;
    return res;
  } catch (caught) {
    const e = !(caught instanceof ServiceError) && isRedisFailure(caught) ? unavailable('the key store is unavailable; retry', caught) : caught;
    result = e instanceof ServiceError ? grpc.status[e.code] : 'INTERNAL';
    reason = e instanceof ServiceError ? e.kmipReason : ResultReason.GeneralFailure;
    // What a dependency said (a provider's host, instance, key id): for the operator's log, not the caller.
    const cause = (e as { cause?: unknown }).cause;
    if (isGrpcError(cause)) detail = cause.details;
    throw e;
  } finally {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    core.metrics?.operations.inc({ op, result });
    core.metrics?.duration.observe({ op }, seconds);
    const entry = {
      tenant: c.tenant ?? '', cert: c.fingerprint, op, uid: c.uid ?? '', result,
      ...(reason !== undefined ? { reason: String(reason) } : {}), ...c.detail, time: new Date().toISOString(),
    };
    core.store.audit(entry);
    core.log.info({ audit: entry, ms: Math.round(seconds * 1e6) / 1e3, ...(detail ? { detail } : {}) }, op);
  }
}
