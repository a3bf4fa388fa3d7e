// Loading a key for a cryptographic operation: the caller's tenant and the
// record (read from Redis, so any change made through keywarden applies at
// once), the use checked against its type, state and usage mask, then its
// material: secret material unsealed through the key cache (Core.unseal),
// public material from the record. Plaintext stays in this process.
import type { KeyObject } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../../core';
import { itemNotFound } from '../../errors';
import { KeyRecord, nowSeconds } from '../../model/record';
import { applyDueTransitions } from '../../model/state';
import { checkUse, KeyUse } from '../../model/usage';
import type { CallerContext, TenantRecord } from '../../store/store';
import { requireUid } from '../common';
import { privateFromStored, publicFromStored, KeyShape, shapeOf } from './keys';

export interface Loaded {
  tenant: TenantRecord;
  rec: KeyRecord;
  /** The record version read (what a cached plaintext must match). */
  version: string;
}

/** The caller's key `uid`, checked for `use`. */
export async function loadForUse(core: Core, c: OpContext, caller: lifecycleV1.Caller | undefined, uid: string, use: KeyUse): Promise<Loaded & { ctx: CallerContext }> {
  const id = requireUid(uid);
  c.uid = id;
  const ctx = await core.resolve(c, caller, id);
  const rec = core.current(ctx.object, id);
  checkUse(rec, use);
  return { ctx, tenant: ctx.tenant, rec, version: ctx.object?.ver ?? '' };
}

/** Another key of the same tenant (a wrapping key), checked for `use`; `role` names it in errors. */
export async function loadOther(core: Core, tenant: TenantRecord, uid: string, use: KeyUse, role: string, notFound: (uid: string) => Error = itemNotFound): Promise<Loaded> {
  const obj = await core.store.getObject(tenant.id, requireUid(uid));
  if (!obj) throw notFound(uid);
  applyDueTransitions(obj.rec, nowSeconds());
  checkUse(obj.rec, use, role);
  return { tenant, rec: obj.rec, version: obj.ver };
}

/** A symmetric key's (or secret data's) bytes: the caller zeroes them when done. */
export async function secretBytes(core: Core, k: Loaded): Promise<Buffer> {
  core.assertNotShredded(k.tenant);
  return core.unseal(k.tenant, k.rec, { version: k.version });
}

/** A private key, parsed from its sealed PKCS#8 (the unsealed copy is zeroed at once). */
export async function privateKey(core: Core, k: Loaded): Promise<{ key: KeyObject; shape: KeyShape }> {
  const der = await secretBytes(core, k);
  try {
    const key = privateFromStored(der);
    return { key, shape: shapeOf(key) };
  } finally {
    der.fill(0);
  }
}

/** A public key, from its record. */
export function publicKey(k: Loaded): { key: KeyObject; shape: KeyShape } {
  const key = publicFromStored(Buffer.from(k.rec.publicMaterial ?? '', 'base64'));
  return { key, shape: shapeOf(key) };
}
