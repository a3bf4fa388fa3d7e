import { createHash } from 'crypto';
import { setTimeout as sleep } from 'timers/promises';
import { grpc, isGrpcError, normalizeFingerprint, prom, ServiceError } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import { ResultReason } from '@keywarden/kmip';
import { PlaintextCache } from './cache';
import { illegalOperation, invalidField, itemNotFound, permissionDenied, unavailable, unknownCaller } from './errors';
import { cloneRecord, KeyRecord, nowSeconds } from './model/record';
import { applyDueTransitions } from './model/state';
import { channels } from './store/keys';
import { CallerContext, isRedisFailure, NotReplicatedError, Store, TenantRecord, Versioned, WriteResult } from './store/store';
import { UnwrapGate } from './unwrap-gate';
import { isNotFound, Wrapping, wrappingFailure } from './wrapping';

// What every KeyLifecycle operation shares: resolving the caller to its
// tenant, optimistic read-modify-write of records, durable creation with
// rollback, unsealing, and the audit trail.

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

const MAX_ATTEMPTS = 64;

/** Thrown from a mutation to leave the record as it is. */
export class SkipWrite extends Error {
  override name = 'SkipWrite';
}

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
      if (r.startsWith('TAKEN:')) throw illegalOperation(`another object already has the Name "${r.slice(6)}"`);
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

  /**
   * Stores a new record whose sealed object already exists. Acknowledged only
   * once Redis has it durably (AOF fsync; WAIT when replicas are required).
   * On failure the record is removed and the sealed object destroyed, unless
   * Redis cannot tell whether the record was written: then the sealed object
   * is kept (never a record without its key) and the uid is logged.
   */
  async persistNew(t: TenantRecord, rec: KeyRecord, sealedRef: Buffer): Promise<void> {
    let result: WriteResult | undefined;
    let failure: unknown;
    try {
      result = await this.store.writeObject(undefined, rec);
    } catch (e) {
      failure = e;
    }
    if (result === 'OK') return;
    if (result === 'EXISTS' && (await this.isOurRecord(rec))) {
      // The write landed on an earlier attempt (ioredis resent the script after a
      // reconnect): the record is ours, so the create succeeded once it is as
      // durable as a first-time write would be.
      if (!this.store.replicasWanted || (await this.store.waitForReplicas()) >= this.store.replicasWanted) return;
      throw unavailable('the new object was not confirmed by enough Redis replicas; its record is kept and it will be usable once they catch up');
    }
    if (result !== undefined) {
      // Nothing was written.
      await this.destroySealedQuietly(t, rec.uid, sealedRef);
      if (result.startsWith('TAKEN:')) throw invalidField(`another object already has the Name "${result.slice(6)}"`);
      if (result === 'NOTENANT') throw unknownCaller();
      throw unavailable(`could not store the new object (${result})`);
    }
    // The write failed or was not replicated: take the record back if it is there.
    let removed = false;
    try {
      const cur = await this.store.getObject(rec.tenant, rec.uid);
      if (!cur) removed = true;
      else if ((await this.store.writeObject(cur, undefined, { wait: false })) === 'OK') {
        // Replication is ordered: a replica that confirms the removal can no
        // longer hold the record alone; with no replica attached none can.
        removed = failure instanceof NotReplicatedError
          ? (await this.store.waitForReplicas()) >= failure.wanted || (await this.store.connectedReplicas()) === 0
          : true;
      }
    } catch (e) {
      this.log.error({ err: e, tenant: rec.tenant, uid: rec.uid }, 'create: cannot confirm the record is gone');
    }
    if (removed) await this.destroySealedQuietly(t, rec.uid, sealedRef);
    else this.log.error({ tenant: rec.tenant, uid: rec.uid }, 'create failed; the sealed object is kept because a copy of its record may survive');
    if (failure instanceof NotReplicatedError) throw unavailable(`the new object was not confirmed by enough Redis replicas (${failure.message}); nothing was created`, failure);
    throw unavailable('the key store is unavailable; nothing was created', failure);
  }

  /** Whether the stored record for rec's uid is the one this create wrote (same sealed object). */
  private async isOurRecord(rec: KeyRecord): Promise<boolean> {
    try {
      const cur = await this.store.getObject(rec.tenant, rec.uid);
      return !!cur && cur.rec.sealedRef !== undefined && cur.rec.sealedRef === rec.sealedRef;
    } catch {
      return false;
    }
  }

  async destroySealedQuietly(t: TenantRecord, uid: string, sealedRef: Buffer): Promise<boolean> {
    try {
      await this.wrapping.destroySealed(t, { tenantId: t.id, uid }, sealedRef);
      return true;
    } catch (e) {
      if (isNotFound(e)) return true;
      this.log.warn({ err: e, tenant: t.id, uid }, 'could not destroy a sealed object');
      return false;
    }
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
    if (!sealedRef) throw illegalOperation('the object has no key material');
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

  /** Replaces a record's sealed reference if it is still `oldRef`; cleans up whichever reference lost. */
  async adoptRewrapped(t: TenantRecord, uid: string, oldRef: string, newRef: Buffer, version: string): Promise<boolean> {
    const newB64 = newRef.toString('base64');
    try {
      await this.mutate(t.id, uid, await this.store.getObject(t.id, uid), (r) => {
        if (r.sealedRef !== oldRef || r.sealedDestroyPending) throw new SkipWrite();
        r.sealedRef = newB64;
        r.crkVersion = version;
      });
    } catch (e) {
      if (newB64 !== oldRef) await this.destroySealedQuietly(t, uid, newRef);
      if (!(e instanceof SkipWrite)) this.log.warn({ err: e, tenant: t.id, uid }, 'could not store a rewrapped reference');
      return false;
    }
    if (newB64 !== oldRef) await this.destroySealedQuietly(t, uid, Buffer.from(oldRef, 'base64'));
    return true;
  }

  /** Removes the sealed object of a destroyed record; leaves it pending for the sweeper on failure. */
  async finishDestroy(t: TenantRecord, uid: string, sealedRef: string): Promise<void> {
    if (!(await this.destroySealedQuietly(t, uid, Buffer.from(sealedRef, 'base64')))) return;
    try {
      await this.mutate(t.id, uid, await this.store.getObject(t.id, uid), (r) => {
        if (r.sealedRef !== sealedRef) throw new SkipWrite();
        delete r.sealedRef;
        delete r.sealedDestroyPending;
      });
    } catch (e) {
      if (!(e instanceof SkipWrite)) this.log.warn({ err: e, tenant: t.id, uid }, 'sealed object destroyed but record not updated; the sweeper will retry');
    }
  }

  /** Retries sealed-object removals that failed earlier (provider down at Destroy time). */
  async sweepDestroyPending(batch = 50): Promise<void> {
    for (const { tenant, uid } of await this.store.destroyPending(batch)) {
      const [t, obj] = await Promise.all([this.store.getTenant(tenant), this.store.getObject(tenant, uid)]);
      if (!t || !obj || !obj.rec.sealedDestroyPending || !obj.rec.sealedRef) {
        await this.store.dropDestroyPending(tenant, uid);
        continue;
      }
      await this.finishDestroy(t, uid, obj.rec.sealedRef);
    }
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

  /** Runs one operation with its audit line, audit stream entry and metrics. */
  async audited<T>(op: string, fn: (c: OpContext) => Promise<T>, uidOf?: (res: T) => string | undefined): Promise<T> {
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
      this.metrics?.operations.inc({ op, result });
      this.metrics?.duration.observe({ op }, seconds);
      const entry = {
        tenant: c.tenant ?? '', cert: c.fingerprint, op, uid: c.uid ?? '', result,
        ...(reason !== undefined ? { reason: String(reason) } : {}), ...c.detail, time: new Date().toISOString(),
      };
      this.store.audit(entry);
      this.log.info({ audit: entry, ms: Math.round(seconds * 1e6) / 1e3, ...(detail ? { detail } : {}) }, op);
    }
  }
}
