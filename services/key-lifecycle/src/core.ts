import { createHash } from 'crypto';
import { setTimeout as sleep } from 'timers/promises';
import { grpc, normalizeFingerprint, ServiceError } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import { ResultReason } from '@keywarden/kmip';
import { CoreMetrics, OpContext, runAudited } from './audit';
import { PlaintextCache } from './cache';
import { itemNotFound, nonUniqueName, permissionDenied, objectDestroyed, unavailable, unknownCaller } from './errors';
import { cloneRecord, KeyRecord, nowSeconds } from './model/record';
import { applyDueTransitions } from './model/state';
import { adoptRewrapped, destroySealedQuietly, finishDestroy, persistNew, sweepDestroyPending } from './sealed-objects';
import { channels } from './store/keys';
import { quotaError } from './operations/quota';
import { CallerContext, NotReplicatedError, parseQuotaResult, Store, TenantRecord, Versioned, WriteResult } from './store/store';
import { UnwrapGate } from './unwrap-gate';
import { Wrapping, wrappingFailure } from './wrapping';

// What every KeyLifecycle operation shares: resolving the caller to its
// tenant, optimistic read-modify-write of records, unsealing and cache
// invalidation. Two concerns live beside it: the audit trail (audit.ts) and
// the life of sealed objects next to their records (sealed-objects.ts); the
// Core's methods for those call them, so operations need only the Core.

export { createMetrics } from './audit';
export type { CoreMetrics, OpContext } from './audit';
export { SkipWrite } from './sealed-objects';

const MAX_ATTEMPTS = 64;

export class Core {
  constructor(
    readonly store: Store,
    readonly wrapping: Wrapping,
    readonly cache: PlaintextCache,
    readonly log: Logger,
    readonly metrics?: CoreMetrics,
    readonly unwraps = new UnwrapGate(),
  ) {}

  // ---- callers ----

  fingerprintOf(caller: lifecycleV1.Caller | undefined): string {
    const fp = caller?.certFingerprint ?? '';
    if (!fp) throw new ServiceError(grpc.status.PERMISSION_DENIED, 'the request names no caller certificate', ResultReason.PermissionDenied);
    try {
      return normalizeFingerprint(fp);
    } catch {
      throw new ServiceError(grpc.status.PERMISSION_DENIED, 'the caller fingerprint is not a SHA-256 fingerprint', ResultReason.PermissionDenied);
    }
  }

  /** The caller's tenant (and the object `uid`, if given and the tenant's). */
  async resolve(c: OpContext, caller: lifecycleV1.Caller | undefined, uid = ''): Promise<CallerContext> {
    const fp = this.fingerprintOf(caller);
    c.fingerprint = fp;
    const ctx = await this.store.loadContext(fp, uid);
    if (!ctx) throw unknownCaller();
    if (ctx.certNotAfter && Date.parse(ctx.certNotAfter) < Date.now()) {
      throw new ServiceError(grpc.status.PERMISSION_DENIED, `client certificate expired on ${ctx.certNotAfter}`, ResultReason.PermissionDenied);
    }
    c.tenant = ctx.tenant.id;
    return ctx;
  }

  /**
   * The object as it is now (date-driven transitions applied, not stored),
   * for operations that only read it: the loaded record is the operation's
   * own copy (decoded for it), so it is updated in place rather than cloned.
   */
  current(obj: Versioned | undefined, uid: string): KeyRecord {
    if (!obj) throw itemNotFound(uid);
    applyDueTransitions(obj.rec, nowSeconds());
    return obj.rec;
  }

  assertNotShredded(t: TenantRecord): void {
    if (t.shreddedAt) {
      throw permissionDenied(`the tenant's root key was deleted (crypto-shredded) at ${t.shreddedAt}; its keys can no longer be unwrapped`);
    }
  }

  // ---- updates ----

  /**
   * Read-modify-write of one record: applies due transitions, runs `fn`, and
   * stores the result only if nobody wrote in between (else recomputes on
   * the newer version). Concurrent Activate/Revoke/Add Attribute from many
   * gateways therefore apply one after the other, each on the other's result.
   */
  async mutate<T>(tenant: string, uid: string, first: Versioned | undefined, fn: (r: KeyRecord, now: number) => T): Promise<{ out: T; rec: KeyRecord }> {
    let cur = first;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (!cur) throw itemNotFound(uid);
      const now = nowSeconds();
      const next = cloneRecord(cur.rec);
      applyDueTransitions(next, now);
      const out = fn(next, now);
      next.lastChangeDate = now;
      const r = await this.write(cur, next);
      if (r === 'OK') return { out, rec: next };
      if (r === 'GONE' || r === 'NOTENANT') throw itemNotFound(uid);
      if (r.startsWith('TAKEN:')) throw nonUniqueName(r.slice(6));
      const quota = parseQuotaResult(r);
      if (quota) throw quotaError(tenant, quota);
      // CONFLICT: another writer got there first.
      await sleep(Math.random() * Math.min(2 + attempt * 2, 50));
      cur = await this.store.getObject(tenant, uid);
    }
    throw unavailable('too many concurrent updates of this object; retry');
  }

  private async write(before: Versioned | undefined, after: KeyRecord | undefined): Promise<WriteResult> {
    try {
      return await this.store.writeObject(before, after);
    } catch (e) {
      if (e instanceof NotReplicatedError) throw unavailable(`the change was not confirmed by enough Redis replicas (${e.message}); it may or may not persist`, e);
      throw unavailable('the key store is unavailable; retry', e);
    }
  }

  // ---- sealed objects (sealed-objects.ts) ----

  /** Stores a new record whose sealed object already exists, durably, or neither. */
  persistNew(t: TenantRecord, rec: KeyRecord, sealedRef: Buffer): Promise<void> {
    return persistNew(this, t, rec, sealedRef);
  }

  /** Destroys a sealed object in the provider; false when it could not (logged). */
  destroySealedQuietly(t: TenantRecord, uid: string, sealedRef: Buffer): Promise<boolean> {
    return destroySealedQuietly(this, t, uid, sealedRef);
  }

  /** Replaces a record's sealed reference if it is still `oldRef`; cleans up whichever reference lost. */
  adoptRewrapped(t: TenantRecord, uid: string, oldRef: string, newRef: Buffer, version: string): Promise<boolean> {
    return adoptRewrapped(this, t, uid, oldRef, newRef, version);
  }

  /** Removes the sealed object of a destroyed record; leaves it pending for the sweeper on failure. */
  finishDestroy(t: TenantRecord, uid: string, sealedRef: string): Promise<void> {
    return finishDestroy(this, t, uid, sealedRef);
  }

  /** Retries sealed-object removals that failed earlier (provider down at Destroy time). */
  sweepDestroyPending(batch = 50): Promise<void> {
    return sweepDestroyPending(this, batch);
  }

  // ---- key material ----

  /**
   * Plaintext of a record's key: from the key cache, else unwrapped through
   * crk-wrapping within the tenant's unwrap limits, sharing a call already in
   * flight for the same key (docs/key-lifecycle.md, "Key cache"). `version`
   * is the record version the caller read from Redis: an entry stored for
   * another version (any change made through keywarden) does not answer.
   * `fresh`, and strict mode (cache lifetime 0), ask the provider every time
   * with a call of their own. Never stored elsewhere, never logged.
   */
  async unseal(t: TenantRecord, rec: KeyRecord, o: { fresh?: boolean; version?: string } = {}): Promise<Buffer> {
    const sealedRef = rec.sealedRef;
    if (!sealedRef) throw objectDestroyed('the object has no key material');
    if (o.fresh || !this.cache.enabled) return this.unwraps.limited(t.id, () => this.unwrap(t, rec.uid, sealedRef));
    const tag = this.cacheTag(t, sealedRef, o.version ?? '');
    const cached = this.cache.get(t.id, rec.uid, tag);
    if (cached) return cached;
    // Read now: an invalidation from here on (while waiting for a turn too) keeps the result out of the cache.
    const epoch = this.cache.epoch;
    return this.unwraps.shared(t.id, `${t.id}/${rec.uid}/${tag}`, async () => {
      const since = Date.now();
      const plaintext = await this.unwrap(t, rec.uid, sealedRef);
      this.cache.put(t.id, rec.uid, tag, plaintext, { since, epoch });
      return plaintext;
    });
  }

  /**
   * What a cache entry must match to answer: the record version, its sealed
   * reference and the tenant's provider fields, hashed (short, and nothing
   * of the reference kept in memory).
   */
  private cacheTag(t: TenantRecord, sealedRef: string, version: string): string {
    return createHash('sha256')
      .update([version, sealedRef, t.kind, t.endpoint, t.iamEndpoint, t.instanceId, t.crkId, t.credentialRef].join('\0'))
      .digest('base64url');
  }

  /** One unwrap through crk-wrapping. */
  private async unwrap(t: TenantRecord, uid: string, sealedRef: string): Promise<Buffer> {
    let res;
    try {
      res = await this.wrapping.unseal(t, { tenantId: t.id, uid }, Buffer.from(sealedRef, 'base64'));
    } catch (e) {
      throw wrappingFailure(e, 'unwrapping the key');
    }
    if (res.rewrappedSealedRef.length > 0) {
      // The root key was rotated since the seal: store the newer reference in the background.
      void this.adoptRewrapped(t, uid, sealedRef, res.rewrappedSealedRef, res.rewrappedCrkVersion);
    }
    return res.plaintext;
  }

  /** Stores date-driven transitions that fell due, so the State index Locate uses is current. */
  async materializeDue(tenant: string): Promise<void> {
    const now = nowSeconds();
    for (const uid of await this.store.dueTransitions(tenant, now)) {
      try {
        await this.mutate(tenant, uid, await this.store.getObject(tenant, uid), () => undefined);
      } catch (e) {
        this.log.debug({ err: e, tenant, uid }, 'due transition not stored');
      }
    }
  }

  /** Drops cached plaintext here and, through Redis pub/sub, on every other replica. */
  async invalidate(tenant: string, uid?: string): Promise<void> {
    this.cache.drop(tenant, uid);
    await this.store.publish(channels.invalidate, uid ? { tenant, uid } : { tenant }).catch((err: unknown) => this.log.warn({ err }, 'cache invalidation not published'));
  }

  // ---- audit ----

  /** Runs one operation with its audit line, audit stream entry and metrics (audit.ts). */
  audited<T>(op: string, fn: (c: OpContext) => Promise<T>, uidOf?: (res: T) => string | undefined): Promise<T> {
    return runAudited(this, op, fn, uidOf);
  }
}
