// The tenant quotas as operations meet them (docs/key-lifecycle.md,
// "Quotas"). The write script enforces them exactly and atomically; Create
// and Register also look before they ask the provider for a key, so a
// tenant at its quota costs no provider call per refused Create.
import type { ServiceError } from '@keywarden/common';
import { quotaExceeded } from '../errors';
import { QUOTA_LABEL } from '../model/quota';
import type { KeyRecord } from '../model/record';
import { attributeBytes } from '../store/codec';
import type { QuotaRefusal, Store, TenantRecord } from '../store/store';

const ADVICE: Record<QuotaRefusal['name'], string> = {
  objects: 'destroy keys it no longer needs, or ask the operator to raise the quota (keywarden tenant update --max-keys)',
  attributeBytes: 'delete attributes it no longer needs, or ask the operator to raise the quota (keywarden tenant update --max-attribute-bytes)',
  objectCustomBytes: 'delete custom attributes of this object, or ask the operator to raise the quota (keywarden tenant update --max-key-custom-bytes)',
};

/** The refusal a client reads: which quota, its limit, what is in use, and what to do. Nothing was changed. */
export function quotaError(tenant: string, q: QuotaRefusal): ServiceError {
  const what = q.name === 'objectCustomBytes'
    ? `the object would exceed tenant "${tenant}"'s quota of ${q.limit} ${QUOTA_LABEL[q.name]} (it has ${q.used})`
    : `tenant "${tenant}" is at its quota of ${q.limit} ${QUOTA_LABEL[q.name]} (${q.used} in use)`;
  return quotaExceeded(`${what}; nothing was changed: ${ADVICE[q.name]}`);
}

/** Refuses a new object before anything is done when the tenant has no room left for it. */
export async function checkNewObject(store: Store, t: TenantRecord, rec: KeyRecord): Promise<void> {
  const q = store.quotaOf(t);
  const u = await store.usage(t.id);
  const bytes = attributeBytes(rec);
  if (u.objects >= q.objects) throw quotaError(t.id, { name: 'objects', limit: q.objects, used: u.objects });
  if (bytes.custom > q.objectCustomBytes) throw quotaError(t.id, { name: 'objectCustomBytes', limit: q.objectCustomBytes, used: 0 });
  if (bytes.all > 0 && u.attributeBytes + bytes.all > q.attributeBytes) throw quotaError(t.id, { name: 'attributeBytes', limit: q.attributeBytes, used: u.attributeBytes });
}
