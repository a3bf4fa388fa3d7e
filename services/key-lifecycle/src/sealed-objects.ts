// The life of a key's sealed object (its wrapped material in the root-key
// provider) next to its record: stored together durably or not at all
// (persistNew), removed after Destroy and retried by the sweeper while the
// provider is down (finishDestroy, sweepDestroyPending), and replaced by a
// rewrapped one after a root key rotation (adoptRewrapped). Core keeps its
// methods of the same names; they call these.
import type { Core } from './core';
import { nonUniqueName, unavailable, unknownCaller } from './errors';
import type { KeyRecord } from './model/record';
import { quotaError } from './operations/quota';
import { NotReplicatedError, parseQuotaResult, TenantRecord, WriteResult } from './store/store';
import { isNotFound } from './wrapping';

/** Thrown from a mutation to leave the record as it is. */
export class SkipWrite extends Error {
  override name = 'SkipWrite';
}

/**
 * Stores a new record whose sealed object already exists. Acknowledged only
 * once Redis has it durably (AOF fsync; WAIT when replicas are required).
 * On failure the record is removed and the sealed object destroyed, unless
 * Redis cannot tell whether the record was written: then the sealed object
 * is kept (never a record without its key) and the uid is logged.
 */
export async function persistNew(core: Core, t: TenantRecord, rec: KeyRecord, sealedRef: Buffer): Promise<void> {
  let result: WriteResult | undefined;
  let failure: unknown;
  try {
    result = await core.store.writeObject(undefined, rec);
  } catch (e) {
    failure = e;
  }
  if (result === 'OK') return;
  if (result === 'EXISTS' && (await isOurRecord(core, rec))) {
    // The write landed on an earlier attempt (ioredis resent the script after a
    // reconnect): the record is ours, so the create succeeded once it is as
    // durable as a first-time write would be.
    if (!core.store.replicasWanted || (await core.store.waitForReplicas(rec.tenant)) >= core.store.replicasWanted) return;
    throw unavailable('the new object was not confirmed by enough Redis replicas; its record is kept and it will be usable once they catch up');
  }
  if (result !== undefined) {
    // Nothing was written.
    await destroySealedQuietly(core, t, rec.uid, sealedRef);
    if (result.startsWith('TAKEN:')) throw nonUniqueName(result.slice(6));
    const quota = parseQuotaResult(result);
    if (quota) throw quotaError(t.id, quota);
    if (result === 'NOTENANT') throw unknownCaller();
    throw unavailable(`could not store the new object (${result})`);
  }
  // The write failed or was not replicated: take the record back if it is there.
  let removed = false;
  try {
    const cur = await core.store.getObject(rec.tenant, rec.uid);
    if (!cur) removed = true;
    else if ((await core.store.writeObject(cur, undefined, { wait: false })) === 'OK') {
      // Replication is ordered: a replica that confirms the removal can no
      // longer hold the record alone; with no replica attached none can.
      removed = failure instanceof NotReplicatedError
        ? (await core.store.waitForReplicas(rec.tenant)) >= failure.wanted || (await core.store.connectedReplicas(rec.tenant)) === 0
        : true;
    }
  } catch (e) {
    core.log.error({ err: e, tenant: rec.tenant, uid: rec.uid }, 'create: cannot confirm the record is gone');
  }
  if (removed) await destroySealedQuietly(core, t, rec.uid, sealedRef);
  else core.log.error({ tenant: rec.tenant, uid: rec.uid }, 'create failed; the sealed object is kept because a copy of its record may survive');
  if (failure instanceof NotReplicatedError) throw unavailable(`the new object was not confirmed by enough Redis replicas (${failure.message}); nothing was created`, failure);
  throw unavailable('the key store is unavailable; nothing was created', failure);
}

/** Whether the stored record for rec's uid is the one this create wrote (same sealed object). */
async function isOurRecord(core: Core, rec: KeyRecord): Promise<boolean> {
  try {
    const cur = await core.store.getObject(rec.tenant, rec.uid);
    return !!cur && cur.rec.sealedRef !== undefined && cur.rec.sealedRef === rec.sealedRef;
  } catch {
    return false;
  }
}

export async function destroySealedQuietly(core: Core, t: TenantRecord, uid: string, sealedRef: Buffer): Promise<boolean> {
  try {
    await core.wrapping.destroySealed(t, { tenantId: t.id, uid }, sealedRef);
    return true;
  } catch (e) {
    if (isNotFound(e)) return true;
    core.log.warn({ err: e, tenant: t.id, uid }, 'could not destroy a sealed object');
    return false;
  }
}

/** Replaces a record's sealed reference if it is still `oldRef`; cleans up whichever reference lost. */
export async function adoptRewrapped(core: Core, t: TenantRecord, uid: string, oldRef: string, newRef: Buffer, version: string): Promise<boolean> {
  const newB64 = newRef.toString('base64');
  try {
    await core.mutate(t.id, uid, await core.store.getObject(t.id, uid), (r) => {
      if (r.sealedRef !== oldRef || r.sealedDestroyPending) throw new SkipWrite();
      r.sealedRef = newB64;
      r.crkVersion = version;
    });
  } catch (e) {
    if (newB64 !== oldRef) await destroySealedQuietly(core, t, uid, newRef);
    if (!(e instanceof SkipWrite)) core.log.warn({ err: e, tenant: t.id, uid }, 'could not store a rewrapped reference');
    return false;
  }
  if (newB64 !== oldRef) await destroySealedQuietly(core, t, uid, Buffer.from(oldRef, 'base64'));
  return true;
}

/** Removes the sealed object of a destroyed record; leaves it pending for the sweeper on failure. */
export async function finishDestroy(core: Core, t: TenantRecord, uid: string, sealedRef: string): Promise<void> {
  if (!(await destroySealedQuietly(core, t, uid, Buffer.from(sealedRef, 'base64')))) return;
  try {
    await core.mutate(t.id, uid, await core.store.getObject(t.id, uid), (r) => {
      if (r.sealedRef !== sealedRef) throw new SkipWrite();
      delete r.sealedRef;
      delete r.sealedDestroyPending;
    });
  } catch (e) {
    if (!(e instanceof SkipWrite)) core.log.warn({ err: e, tenant: t.id, uid }, 'sealed object destroyed but record not updated; the sweeper will retry');
  }
}

/** Retries sealed-object removals that failed earlier (provider down at Destroy time). */
export async function sweepDestroyPending(core: Core, batch = 50): Promise<void> {
  for (const { tenant, uid } of await core.store.destroyPending(batch)) {
    const [t, obj] = await Promise.all([core.store.getTenant(tenant), core.store.getObject(tenant, uid)]);
    if (!t || !obj || !obj.rec.sealedDestroyPending || !obj.rec.sealedRef) {
      await core.store.dropDestroyPending(tenant, uid);
      continue;
    }
    await finishDestroy(core, t, uid, obj.rec.sealedRef);
  }
}
