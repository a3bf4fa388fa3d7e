// Revoke and destroy one key for an operator: the KMIP operations' own code
// (operations/revoke.ts, destroy.ts), so the state machine, the cache
// invalidation on every replica and the sealed-object removal are the same
// whether vCenter or an operator asks; the audit line is the Admin call's.
import type { adminV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { adminError } from '../errors';
import { requireUid } from '../operations/common';
import { destroyObject } from '../operations/destroy';
import { checkRevocation, revokeObject } from '../operations/revoke';
import { keyInfo } from './keys';
import { requireTenant } from './tenants';

/** The key named by a request, after its confirmation matched. */
async function target(core: Core, req: { tenantId: string; uniqueIdentifier: string; confirmUniqueIdentifier: string }) {
  const uid = requireUid(req.uniqueIdentifier);
  if (req.confirmUniqueIdentifier !== uid) throw adminError.invalid('confirm_unique_identifier must equal unique_identifier');
  const t = await requireTenant(core, req.tenantId);
  const obj = await core.store.getObject(t.id, uid);
  if (!obj) throw adminError.notFound(`tenant "${t.id}" has no key "${uid}"`);
  return { t, uid, obj };
}

export async function revokeKey(core: Core, req: adminV1.RevokeKeyRequest): Promise<adminV1.KeyInfo> {
  checkRevocation(req);
  const { t, uid, obj } = await target(core, req);
  return keyInfo(await revokeObject(core, t.id, uid, obj, req));
}

export async function destroyKey(core: Core, req: adminV1.DestroyKeyRequest): Promise<adminV1.KeyInfo> {
  const { t, uid, obj } = await target(core, req);
  return keyInfo(await destroyObject(core, t, uid, obj));
}
