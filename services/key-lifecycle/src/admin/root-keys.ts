import { grpc } from '@keywarden/common';
import { adminV1, wrappingV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { DESTROYED_STATES } from '../model/state';
import { adminError } from '../errors';
import type { TenantRecord } from '../store/store';
import { providerOf } from '../wrapping';
import { adminWrappingError } from './errors';
import { requireTenant } from './tenants';

export const rootKeyStateName = (s: wrappingV1.RootKeyState): string => wrappingV1.rootKeyStateToJSON(s).replace('ROOT_KEY_STATE_', '');

/**
 * Keys that a rewrap would still move: not destroyed, sealed (public keys
 * and certificates have no root key version: `crkv` ''), and on another
 * version than `current`. Destroyed records keep the version they had, so
 * both postings are counted without them.
 */
async function keysOnOlderVersions(core: Core, t: TenantRecord, current: string): Promise<bigint> {
  const [usage, onCurrent, unsealed, ...destroyed] = await Promise.all([
    core.store.usage(t.id),
    core.store.postingOids(t.id, 'crkv', encodeURIComponent(current)),
    core.store.postingOids(t.id, 'crkv', ''),
    ...DESTROYED_STATES.map((st) => core.store.postingOids(t.id, 'state', String(st))),
  ]);
  const dead = new Set(destroyed.flat());
  const live = (oids: number[]) => oids.reduce((n, o) => (dead.has(o) ? n : n + 1), 0);
  return BigInt(Math.max(0, usage.objects - live(onCurrent) - live(unsealed)));
}

export async function rootKeyStatus(core: Core, t: TenantRecord): Promise<adminV1.RootKeyStatus> {
  let res;
  try {
    res = await core.wrapping.checkRootKey(providerOf(t));
  } catch (e) {
    throw adminWrappingError(e, `checking root key "${t.crkId}"`);
  }
  return {
    tenantId: t.id,
    crkId: t.crkId,
    state: rootKeyStateName(res.state),
    currentVersion: res.currentVersion,
    lastRotated: res.lastRotated,
    detail: [res.detail, t.shreddedAt ? `crypto-shredded through keywarden at ${t.shreddedAt}` : ''].filter(Boolean).join('; '),
    keysOnOlderVersions: await keysOnOlderVersions(core, t, res.currentVersion),
  };
}

export async function getRootKeyStatus(core: Core, req: adminV1.GetRootKeyStatusRequest): Promise<adminV1.RootKeyStatus> {
  return rootKeyStatus(core, await requireTenant(core, req.tenantId));
}

export async function rotateRootKey(core: Core, req: adminV1.RotateRootKeyRequest): Promise<adminV1.RootKeyStatus> {
  const t = await requireTenant(core, req.tenantId);
  if (t.shreddedAt) throw adminError.precondition(`the root key was crypto-shredded at ${t.shreddedAt}`);
  try {
    await core.wrapping.rotateRootKey(providerOf(t));
  } catch (e) {
    throw adminWrappingError(e, `rotating root key "${t.crkId}"`);
  }
  // Cached keys are unwrapped again at their next Get, which moves them to the new version.
  await core.invalidate(t.id);
  return rootKeyStatus(core, t);
}

/** Crypto-shred: deletes the CRK in the provider; every key of the tenant becomes unusable at once. */
export async function shredRootKey(core: Core, req: adminV1.ShredRootKeyRequest): Promise<adminV1.RootKeyStatus> {
  if (req.confirmTenantId !== req.tenantId) throw adminError.invalid('confirm_tenant_id must equal tenant_id');
  const t = await requireTenant(core, req.tenantId);
  try {
    await core.wrapping.deleteRootKey(providerOf(t), true);
  } catch (e) {
    const err = adminWrappingError(e, `deleting root key "${t.crkId}"`);
    if (err.code !== grpc.status.NOT_FOUND) throw err;
  }
  t.shreddedAt ||= new Date().toISOString();
  await core.store.updateTenant(t.id, { shreddedAt: t.shreddedAt });
  await core.invalidate(t.id);
  try {
    return await rootKeyStatus(core, t);
  } catch {
    return {
      tenantId: t.id, crkId: t.crkId, state: 'DELETED', currentVersion: '', lastRotated: '',
      detail: `crypto-shredded through keywarden at ${t.shreddedAt}`, keysOnOlderVersions: 0n,
    };
  }
}
