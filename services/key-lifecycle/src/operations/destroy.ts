// KMIP 1.4 §4.21 Destroy (errors: §11.22). The record stays (state
// Destroyed, attributes kept for audit); the sealed object in the provider
// is removed, or retried by the sweeper when the provider is unreachable;
// public material kept in the record is removed with the same write.
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import type { KeyRecord } from '../model/record';
import { destroy as destroyRecord } from '../model/state';
import type { TenantRecord, Versioned } from '../store/store';
import { requireUid } from './common';

export async function destroy(core: Core, c: OpContext, req: lifecycleV1.DestroyRequest): Promise<lifecycleV1.DestroyResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const ctx = await core.resolve(c, req.caller, uid);
  await destroyObject(core, ctx.tenant, uid, ctx.object);
  return { uniqueIdentifier: uid };
}

/**
 * Destroys one object of `tenant` (4.21), drops its cached plaintext and
 * removes its sealed object: KMIP Destroy and the Admin API's DestroyKey both
 * end here.
 */
export async function destroyObject(core: Core, tenant: TenantRecord, uid: string, obj: Versioned | undefined): Promise<KeyRecord> {
  const { rec } = await core.mutate(tenant.id, uid, obj, (r, now) => {
    destroyRecord(r, now);
    if (r.sealedRef) r.sealedDestroyPending = true;
    // A public key's or certificate's material goes with the Destroy too; the attributes stay.
    delete r.publicMaterial;
  });
  await core.invalidate(tenant.id, uid);
  if (rec.sealedRef) await core.finishDestroy(tenant, uid, rec.sealedRef);
  return rec;
}
