// Per-tenant quotas (docs/key-lifecycle.md, "Quotas"): what one tenant may
// hold in the region's Redis, so that no tenant can fill it for the others.
// Each tenant has its own limits or the configured defaults; usage is
// counted in Redis by the same script that makes the write it counts.

export interface Quota {
  /** Objects that are not destroyed (Destroy frees one). */
  objects: number;
  /** Bytes of client-managed attributes (Name, Object Group, Link, x-…) over all of the tenant's objects. */
  attributeBytes: number;
  /** Bytes of custom (x-) attributes on one object. */
  objectCustomBytes: number;
}

export type QuotaName = keyof Quota;

export const QUOTA_NAMES: readonly QuotaName[] = ['objects', 'attributeBytes', 'objectCustomBytes'];

/**
 * Defaults: 200,000 keys (twenty times a tenant of 10,000 VMs), 64 MiB of
 * attributes (vCenter's tags take about 200 bytes a key) and 64 KiB of
 * custom attributes per key.
 */
export const DEFAULT_QUOTA: Readonly<Quota> = { objects: 200_000, attributeBytes: 64 * 1024 * 1024, objectCustomBytes: 64 * 1024 };

/** The largest value each limit accepts: beyond it a limit protects nothing (or is a typo). */
export const MAX_QUOTA: Readonly<Quota> = { objects: 100_000_000, attributeBytes: 64 * 1024 ** 3, objectCustomBytes: 64 * 1024 * 1024 };

/** What the limits are called in messages and metrics. */
export const QUOTA_LABEL: Readonly<Record<QuotaName, string>> = {
  objects: 'objects',
  attributeBytes: 'attribute bytes',
  objectCustomBytes: 'custom attribute bytes per object',
};

/** A limit as given (configuration, Admin API): a whole number from 1 to its maximum, else an error naming it. */
export function checkQuotaValue(name: QuotaName, v: unknown, what: string = name): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error(`${what} must be a whole number, got ${String(v)}`);
  if (n < 1 || n > MAX_QUOTA[name]) throw new Error(`${what} must be between 1 and ${MAX_QUOTA[name]}, got ${n}`);
  return n;
}

/** Validates a whole set of defaults (startKeyLifecycle's `quotas`). */
export function checkQuota(q: Partial<Quota> | undefined, what = 'quotas'): Quota {
  const out = { ...DEFAULT_QUOTA };
  for (const name of QUOTA_NAMES) {
    const v = q?.[name];
    if (v !== undefined) out[name] = checkQuotaValue(name, v, `${what}.${name}`);
  }
  return out;
}

/** What a tenant uses, as counted in Redis. */
export interface Usage {
  objects: number;
  attributeBytes: number;
  /** Destroyed objects whose records are kept (attributes only): not counted against `objects`. */
  destroyedObjects: number;
}
