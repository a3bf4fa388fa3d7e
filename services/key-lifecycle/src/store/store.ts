import Redis, { Cluster } from 'ioredis';
import type { Logger } from '@keywarden/common';
import type { KeyRecord } from '../model/record';
import { DEFAULT_QUOTA, Quota, Usage } from '../model/quota';
import { attributeBytes, decodeFields, encodeFields, pairs } from './codec';
import { bitmapOids, entryId, IndexEntry, indexEntries, isLive, listOids, ORDER_BUCKET, postingId } from './indexes';
import { channels, Keyspace, keyspace } from './keys';
import {
  ADD_CERT, CLAIM_CERT, CLAIM_REWRAP, CREATE_TENANT, LOAD_CONTEXT, LOAD_CONTEXT_CLUSTER, SET_CERT_PASSWORD, WRITE_OBJECT,
} from './scripts';

// Every Redis access of key-lifecycle. No plaintext key material reaches this
// module: records hold sealed references only. The layout is in keys.ts
// (names), codec.ts (a record's hash) and indexes.ts (what finds a record).

/** A connection to one primary (with or without Sentinel), or to Redis Cluster. */
export type RedisClient = Redis | Cluster;

export interface TenantRecord {
  id: string;
  name: string;
  kind: number;
  endpoint: string;
  iamEndpoint: string;
  instanceId: string;
  crkId: string;
  /** "sealed:<base64>", "file:<path>" (inside crk-wrapping's credentials directory) or "env:KEYWARDEN_CRED_<NAME>" — never a credential in clear. */
  credentialRef: string;
  credentialSource: string;
  createdAt: string;
  status: 'active' | 'deleting';
  /** RFC 3339 time the root key was deleted through ShredRootKey. */
  shreddedAt: string;
  /** The tenant's own limits; absent ones are the configured defaults. */
  quota?: Partial<Quota>;
}

export interface CertificateRecord {
  fingerprint: string;
  tenant: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  addedAt: string;
  clientAuth: boolean;
  /** The certificate's KMIP password, as a scrypt hash (client-passwords.ts); absent = none. */
  passwordHash?: string;
}

export interface Versioned {
  ver: string;
  rec: KeyRecord;
  /** Stored by a keywarden before record format 2 (codec.ts): its next write converts it. */
  legacy?: boolean;
}

export interface CallerContext {
  tenant: TenantRecord;
  certNotAfter: string;
  object?: Versioned;
}

export type WriteResult = 'OK' | 'EXISTS' | 'GONE' | 'CONFLICT' | 'NOTENANT' | `TAKEN:${string}` | `QUOTA:${string}`;

/** A refused write: which quota, its limit, what was in use, and what the write needed. */
export interface QuotaRefusal {
  name: keyof Quota;
  limit: number;
  used: number;
}

export function parseQuotaResult(r: string): QuotaRefusal | undefined {
  const m = /^QUOTA:(\w+):(\d+):(\d+)$/.exec(r);
  return m ? { name: m[1] as keyof Quota, limit: Number(m[2]), used: Number(m[3]) } : undefined;
}

type LoadReply = [string, string[], string, string[]] | null;

type Scripts = {
  kwLoadContext(certKey: string, uid: string): Promise<LoadReply>;
  kwLoadContextCluster(...args: Array<string | number>): Promise<LoadReply>;
  kwWriteObject(...args: Array<string | number>): Promise<string>;
  kwAddCert(...args: string[]): Promise<string>;
  kwClaimCert(key: string, tenant: string): Promise<string>;
  kwCreateTenant(...args: Array<string | number>): Promise<string>;
  kwClaimRewrap(...args: string[]): Promise<string>;
  kwSetCertPassword(key: string, tenant: string, hash: string, channel: string, notice: string): Promise<number>;
};

/** The tenant hash fields holding its own quota. */
const QUOTA_FIELDS: ReadonlyArray<[keyof Quota, string]> = [['objects', 'qObjects'], ['attributeBytes', 'qAttributeBytes'], ['objectCustomBytes', 'qObjectCustomBytes']];

function tenantFromFlat(flat: string[]): TenantRecord | undefined {
  return flat.length === 0 ? undefined : tenantFromHash(pairs(flat));
}

function tenantFromHash(h: Record<string, string>): TenantRecord | undefined {
  if (!h.id) return undefined;
  const quota: Partial<Quota> = {};
  for (const [k, f] of QUOTA_FIELDS) if (h[f]) quota[k] = Number(h[f]);
  return {
    id: h.id,
    name: h.name ?? '',
    kind: Number(h.kind ?? 0),
    endpoint: h.endpoint ?? '',
    iamEndpoint: h.iamEndpoint ?? '',
    instanceId: h.instanceId ?? '',
    crkId: h.crkId ?? '',
    credentialRef: h.credentialRef ?? '',
    credentialSource: h.credentialSource ?? '',
    createdAt: h.createdAt ?? '',
    status: h.status === 'deleting' ? 'deleting' : 'active',
    shreddedAt: h.shreddedAt ?? '',
    ...(Object.keys(quota).length ? { quota } : {}),
  };
}

function flatten(o: object): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v === undefined || (typeof v === 'object' && v !== null) ? [] : [k, String(v)]));
}

/** A failure of Redis itself (down, refusing writes, timing out), as opposed to a bug. */
export function isRedisFailure(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return ['ReplyError', 'MaxRetriesPerRequestError', 'AbortError', 'NotReplicatedError', 'ClusterAllFailedError'].includes(e.name)
    || /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|Command timed out|enableOfflineQueue|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|Failed to refresh slots cache|slots allocation group/.test(e.message);
}

/** A record write that reached the primary but not the required replicas in time. */
export class NotReplicatedError extends Error {
  override name = 'NotReplicatedError';
  constructor(readonly acked: number, readonly wanted: number) {
    super(`write acknowledged by ${acked} of ${wanted} required replicas`);
  }
}

/** Audit entries kept in memory while Redis does not take them (about 200 bytes each). */
export const AUDIT_BACKLOG_MAX = 10_000;

export interface StoreOptions {
  /**
   * Connection for object writes. WAIT counts the writes of its own
   * connection and blocks it, so with replicas configured writes get their
   * own connection and reads never queue behind a WAIT.
   */
  writer?: RedisClient;
  waitReplicas?: number;
  waitTimeoutMs?: number;
  auditMaxLen?: number;
  /** Audit entries older than this are trimmed (trimAudit); 0 = by length only. */
  auditRetentionMs?: number;
  /** Default quotas of tenants without their own. */
  quota?: Quota;
}

function defineScripts(r: RedisClient): Scripts {
  r.defineCommand('kwLoadContext', { numberOfKeys: 1, lua: LOAD_CONTEXT });
  r.defineCommand('kwLoadContextCluster', { lua: LOAD_CONTEXT_CLUSTER });
  r.defineCommand('kwWriteObject', { lua: WRITE_OBJECT });
  r.defineCommand('kwAddCert', { numberOfKeys: 3, lua: ADD_CERT });
  r.defineCommand('kwClaimCert', { numberOfKeys: 1, lua: CLAIM_CERT });
  r.defineCommand('kwCreateTenant', { lua: CREATE_TENANT });
  r.defineCommand('kwClaimRewrap', { numberOfKeys: 2, lua: CLAIM_REWRAP });
  r.defineCommand('kwSetCertPassword', { numberOfKeys: 1, lua: SET_CERT_PASSWORD });
  return r as unknown as Scripts;
}

/** Object numbers in base 36, as postings hold them. */
const b36 = (n: number) => n.toString(36);

export class Store {
  readonly redis: RedisClient;
  readonly writer: RedisClient;
  /** Key names of this deployment's layout (one primary or Redis Cluster). */
  readonly k: Keyspace;
  readonly quota: Quota;
  private readonly scripts: Scripts;
  private readonly writerScripts: Scripts;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly auditMaxLen: number;
  readonly auditRetentionMs: number;
  /** Redis Cluster: certificate fingerprint -> tenant, dropped when the certificate is revoked (see loadContext). */
  private readonly certTenants = new Map<string, string>();

  private readonly auditBacklog: Array<Record<string, string>> = [];
  private auditRetry: NodeJS.Timeout | undefined;
  private auditDropped = 0;

  constructor(redis: RedisClient, private readonly log: Logger, opts: StoreOptions = {}) {
    this.redis = redis;
    this.writer = opts.writer ?? redis;
    this.k = keyspace(redis instanceof Cluster);
    this.scripts = defineScripts(redis);
    this.writerScripts = this.writer === redis ? this.scripts : defineScripts(this.writer);
    this.waitReplicas = opts.waitReplicas ?? 0;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 1000;
    this.auditMaxLen = opts.auditMaxLen ?? 1_000_000;
    this.auditRetentionMs = opts.auditRetentionMs ?? 0;
    this.quota = opts.quota ?? { ...DEFAULT_QUOTA };
  }

  get cluster(): boolean {
    return this.k.cluster;
  }

  // ---- callers and objects ----

  /**
   * One round trip: who the caller is, its tenant, and the object if a uid
   * is given. On Redis Cluster the certificate's tenant comes first (from
   * memory after the first time: a second round trip only then), and the
   * script reads the certificate again in the tenant's slot, so a removed
   * certificate is refused at once whatever this replica remembers.
   */
  async loadContext(fingerprint: string, uid = ''): Promise<CallerContext | undefined> {
    let r: LoadReply;
    if (!this.cluster) {
      r = await this.scripts.kwLoadContext(this.k.cert(fingerprint), uid);
    } else {
      const cached = this.certTenants.get(fingerprint);
      r = cached ? await this.loadInTenant(cached, fingerprint, uid) : null;
      if (!r) {
        this.certTenants.delete(fingerprint);
        const t = await this.redis.hget(this.k.cert(fingerprint), 'tenant');
        if (!t) return undefined;
        r = await this.loadInTenant(t, fingerprint, uid);
        if (r) this.rememberCertificate(fingerprint, t);
      }
    }
    if (!r) return undefined;
    const tenant = tenantFromFlat(r[1]);
    if (!tenant || tenant.status !== 'active') return undefined;
    const ctx: CallerContext = { tenant, certNotAfter: r[2] };
    const obj = uid ? decodeFields(uid, tenant.id, pairs(r[3])) : undefined;
    if (obj) ctx.object = obj;
    return ctx;
  }

  private loadInTenant(t: string, fp: string, uid: string): Promise<LoadReply> {
    const ks = [this.k.tenantCert(t, fp), this.k.tenant(t), ...(uid ? [this.k.object(t, uid)] : [])];
    return this.scripts.kwLoadContextCluster(ks.length, ...ks);
  }

  private rememberCertificate(fp: string, t: string): void {
    // Bounded: a replica serves a region's clients, but never lets the map grow without end.
    if (this.certTenants.size >= 100_000) this.certTenants.clear();
    this.certTenants.set(fp, t);
  }

  /** Forgets what this replica remembers of a certificate (its revocation was announced). */
  forgetCertificate(fp: string): void {
    this.certTenants.delete(fp);
  }

  /**
   * One record. Unlike loadContext's (the Get path, which never shows it),
   * its createdBy is the certificate's fingerprint.
   */
  async getObject(tenant: string, uid: string): Promise<Versioned | undefined> {
    const v = decodeFields(uid, tenant, await this.redis.hgetall(this.k.object(tenant, uid)));
    if (v) await this.resolveCreators(tenant, [v.rec]);
    return v;
  }

  async getObjects(tenant: string, uids: string[]): Promise<Array<Versioned | undefined>> {
    if (uids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const uid of uids) p.hgetall(this.k.object(tenant, uid));
    const res = (await p.exec()) ?? [];
    const out = res.map(([err, v], i) => {
      if (err) throw err;
      return decodeFields(uids[i], tenant, v as Record<string, string>);
    });
    await this.resolveCreators(tenant, out.flatMap((v) => (v ? [v.rec] : [])));
    return out;
  }

  /**
   * The tenant's short code ("#<n>") for the certificate that creates a
   * record: a record holds it instead of the 64-digit fingerprint (codec.ts).
   * Numbers are given once per certificate and tenant, and kept with the
   * tenant's counters.
   */
  private async creatorCode(tenant: string, createdBy: string): Promise<string> {
    if (createdBy.startsWith('#')) return createdBy;
    const meta = this.k.meta(tenant);
    const known = await this.writer.hget(meta, `cb:${createdBy}`);
    if (known) return known;
    const code = `#${await this.writer.hincrby(meta, 'cbn', 1)}`;
    // The way back first: a record never holds a code that cannot be read.
    await this.writer.hset(meta, `cb${code}`, createdBy);
    if (await this.writer.hsetnx(meta, `cb:${createdBy}`, code)) return code;
    return (await this.writer.hget(meta, `cb:${createdBy}`)) ?? code;
  }

  /** Puts the fingerprint in place of each record's creator code. */
  private async resolveCreators(tenant: string, recs: KeyRecord[]): Promise<void> {
    const codes = [...new Set(recs.map((r) => r.createdBy).filter((c) => c.startsWith('#')))];
    if (codes.length === 0) return;
    const fps = await this.redis.hmget(this.k.meta(tenant), ...codes.map((c) => `cb${c}`));
    const by = new Map(codes.map((c, i) => [c, fps[i] ?? '']));
    for (const r of recs) if (r.createdBy.startsWith('#')) r.createdBy = by.get(r.createdBy) ?? '';
  }

  /** The next object number of a tenant (creation order; numbers are never reused). */
  private async nextOid(tenant: string): Promise<number> {
    return this.writer.hincrby(this.k.meta(tenant), 'seq', 1);
  }

  /**
   * Creates (before undefined), updates, or deletes (after undefined) a
   * record with its index entries and the tenant's usage, if `ver` is still
   * current and the tenant's quotas allow it. Only the hash fields that
   * changed are written. `quotas: false` (the layout migration) counts
   * without refusing.
   */
  async writeObject(before: Versioned | undefined, after: KeyRecord | undefined, opts: { wait?: boolean; quotas?: boolean } = {}): Promise<WriteResult> {
    const rec = (after ?? before?.rec) as KeyRecord;
    const t = rec.tenant;
    const mode = !before ? 'create' : !after ? 'delete' : 'update';
    const legacy = before?.legacy === true;
    if (after && after.oid === undefined) after.oid = before?.rec.oid ?? await this.nextOid(t);
    const oid = (after ?? before?.rec)?.oid;

    // The hash: fields that differ (a legacy hash is rewritten whole: its `rec` is replaced).
    const creator = after ? await this.creatorCode(t, after.createdBy) : undefined;
    const oldF = before && !legacy ? encodeFields(before.rec, creator) : new Map<string, string>();
    const newF = after ? encodeFields(after, creator) : new Map<string, string>();
    const set: string[] = [];
    for (const [f, v] of newF) if (oldF.get(f) !== v) set.push(f, v);
    const del = [...oldF.keys()].filter((f) => !newF.has(f));

    // Index entries: the difference between old and new.
    const oldE = before ? indexEntries(before.rec).filter((e) => !legacy || e.kind !== 'post') : [];
    const newE = after ? indexEntries(after) : [];
    const oldIds = new Set(oldE.map(entryId));
    const newIds = new Set(newE.map(entryId));
    const keyList: string[] = [this.k.object(t, rec.uid), this.k.tenant(t), this.k.meta(t)];
    const keyIndex = new Map<string, number>();
    const ki = (k: string) => {
      let i = keyIndex.get(k);
      if (i === undefined) { keyList.push(k); i = keyList.length; keyIndex.set(k, i); }
      return i;
    };
    const ops: Array<string | number> = [];
    const op = (e: IndexEntry, add: boolean) => {
      switch (e.kind) {
        case 'post': {
          const id = postingId(e.attr, e.token);
          ops.push(add ? 'padd' : 'prem', ki(this.k.postings(t, id.slice(0, 3))), id, b36(oid as number));
          break;
        }
        case 'name': ops.push(add ? 'uset' : 'udel', ki(this.k.names(t)), e.value, rec.uid); break;
        case 'timed': ops.push(add ? 'zadd' : 'zrem', ki(this.k.timed(t)), rec.uid, String(e.due)); break;
        case 'pending': ops.push(add ? 'sadd' : 'srem', ki(this.k.destroyPending(t)), `${t}/${rec.uid}`, ''); break;
      }
    };
    for (const e of oldE) if (!newIds.has(entryId(e))) op(e, false);
    for (const e of newE) if (!oldIds.has(entryId(e))) op(e, true);
    const order = (o: number, add: boolean) => ops.push(add ? 'hset' : 'hdel', ki(this.k.order(t, Math.floor(o / ORDER_BUCKET))), String(o % ORDER_BUCKET), rec.uid);
    if ((mode === 'create' || legacy) && after) order(oid as number, true);
    if (mode === 'delete' && oid !== undefined) order(oid, false);
    if (legacy && before) for (const [k, m, z] of legacyEntries(this.k, before.rec)) ops.push(z ? 'zrem' : 'srem', ki(k), m, '');

    // Usage: what this write adds or frees (a legacy record was not counted yet).
    const counted = before && !legacy ? before.rec : undefined;
    const live = (r?: KeyRecord) => (r && isLive(r) ? 1 : 0);
    const dead = (r?: KeyRecord) => (r && !isLive(r) ? 1 : 0);
    const bytes = (r?: KeyRecord) => (r ? attributeBytes(r) : { all: 0, custom: 0 });
    const [bb, ab] = [bytes(counted), bytes(after)];
    const q = opts.quotas === false ? undefined : this.quota;
    const args = [
      keyList.length, ...keyList, mode, before?.ver ?? '', this.k.tenantSpace(t),
      live(after) - live(counted), dead(after) - dead(counted), ab.all - bb.all,
      q ? q.objects : -1, q ? q.attributeBytes : -1, bb.custom, ab.custom, q ? q.objectCustomBytes : -1,
      set.length / 2, ...set, del.length, ...del, ops.length / 4, ...ops,
    ];
    const result = (await this.writerScripts.kwWriteObject(...args)) as WriteResult;
    if (result === 'OK' && this.waitReplicas > 0 && opts.wait !== false) {
      const acked = await this.waitForReplicas(t);
      if (acked < this.waitReplicas) throw new NotReplicatedError(acked, this.waitReplicas);
    }
    return result;
  }

  /** Replicas every record write must reach (Redis WAIT); 0 = none. */
  get replicasWanted(): number {
    return this.waitReplicas;
  }

  /**
   * How many replicas confirmed the writes made so far on the write
   * connection (WAIT). On Redis Cluster, the connection to the primary that
   * holds `tenant`'s slot.
   */
  async waitForReplicas(tenant = ''): Promise<number> {
    return Number(await this.nodeOf(tenant).call('WAIT', this.waitReplicas, this.waitTimeoutMs));
  }

  /** Replicas currently attached to the primary (of `tenant`'s slot, on Redis Cluster). */
  async connectedReplicas(tenant = ''): Promise<number> {
    const m = /connected_slaves:(\d+)/.exec(await this.nodeOf(tenant).info('replication'));
    return m ? Number(m[1]) : 0;
  }

  /** The connection to the primary holding `tenant`'s keys (the writer itself on one primary). */
  private nodeOf(tenant: string): Redis {
    if (!(this.writer instanceof Cluster)) return this.writer;
    const c = this.writer as unknown as { slots: string[][]; connectionPool: { getInstanceByKey(k: string): Redis | undefined } };
    const slot = clusterSlot(this.k.meta(tenant));
    const node = c.slots[slot]?.[0];
    const conn = node ? c.connectionPool.getInstanceByKey(node) : undefined;
    if (!conn) throw new Error(`no Redis Cluster primary known for slot ${slot}`);
    return conn;
  }

  // ---- counts and listings ----

  /** What a tenant uses, as the write script counts it. */
  async usage(tenant: string): Promise<Usage> {
    const [live, dead, ab] = await this.redis.hmget(this.k.meta(tenant), 'live', 'dead', 'ab');
    return { objects: Number(live ?? 0), attributeBytes: Number(ab ?? 0), destroyedObjects: Number(dead ?? 0) };
  }

  /** The limits that apply to a tenant: its own, else the configured defaults. */
  quotaOf(t: TenantRecord): Quota {
    return { ...this.quota, ...t.quota };
  }

  /** Records of the tenant, destroyed ones included. */
  async objectCount(tenant: string): Promise<number> {
    const u = await this.usage(tenant);
    return u.objects + u.destroyedObjects;
  }

  /** Order hashes of a tenant, each with its uids in creation order. */
  private async orderBuckets(tenant: string): Promise<number> {
    const seq = Number(await this.redis.hget(this.k.meta(tenant), 'seq') ?? 0);
    return Math.floor(seq / ORDER_BUCKET) + 1;
  }

  /** Uids in creation order from position `start` to `stop` (inclusive; -1 = the last). */
  async listObjectIds(tenant: string, start: number, stop: number): Promise<string[]> {
    const n = await this.orderBuckets(tenant);
    const p = this.redis.pipeline();
    for (let b = 0; b < n; b++) p.hlen(this.k.order(tenant, b));
    const lens = ((await p.exec()) ?? []).map(([err, v]) => { if (err) throw err; return Number(v); });
    const last = stop < 0 ? Number.MAX_SAFE_INTEGER : stop;
    const out: string[] = [];
    let at = 0;
    const wanted: number[] = [];
    for (let b = 0; b < n && at <= last; b++) {
      if (at + lens[b] > start && lens[b] > 0) wanted.push(b);
      at += lens[b];
    }
    if (wanted.length === 0) return out;
    let pos = wanted.length ? lens.slice(0, wanted[0]).reduce((a, x) => a + x, 0) : 0;
    const q = this.redis.pipeline();
    for (const b of wanted) q.hgetall(this.k.order(tenant, b));
    const hashes = ((await q.exec()) ?? []).map(([err, v]) => { if (err) throw err; return v as Record<string, string>; });
    for (const h of hashes) {
      for (const f of Object.keys(h).map(Number).sort((a, b) => a - b)) {
        if (pos >= start && pos <= last) out.push(h[String(f)]);
        pos++;
      }
    }
    return out;
  }

  /** Uids of objects by their numbers (those that no longer exist are left out). */
  async uidsOf(tenant: string, oids: number[]): Promise<string[]> {
    if (oids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const o of oids) p.hget(this.k.order(tenant, Math.floor(o / ORDER_BUCKET)), String(o % ORDER_BUCKET));
    return ((await p.exec()) ?? []).flatMap(([err, v]) => { if (err) throw err; return typeof v === 'string' ? [v] : []; });
  }

  /** Uids of a tenant whose date-driven transition is due. */
  async dueTransitions(tenant: string, now: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.k.timed(tenant), '-inf', now, 'LIMIT', 0, 1000);
  }

  /** Object numbers with an indexed value (indexes.ts), in increasing order. */
  async postingOids(tenant: string, attr: string, token: string): Promise<number[]> {
    const id = postingId(attr, token);
    const v = await this.redis.hget(this.k.postings(tenant, id.slice(0, 3)), id.slice(3));
    if (!v) return [];
    if (v !== '*') return listOids(v).sort((a, b) => a - b);
    return bitmapOids(await this.redis.getBuffer(`${this.k.tenantSpace(tenant)}pb:${id}`));
  }

  async indexMembers(tenant: string, attr: string, token: string): Promise<string[]> {
    return this.uidsOf(tenant, await this.postingOids(tenant, attr, token));
  }

  /** How many objects have an indexed value (a hash collision may add one). */
  async indexCount(tenant: string, attr: string, token: string): Promise<number> {
    const id = postingId(attr, token);
    const v = await this.redis.hget(this.k.postings(tenant, id.slice(0, 3)), id.slice(3));
    if (!v) return 0;
    if (v !== '*') return listOids(v).length;
    return this.redis.bitcount(`${this.k.tenantSpace(tenant)}pb:${id}`);
  }

  /** Uids that have every one of the indexed values. */
  async intersect(indexKeys: Array<[string, string]>, tenant: string): Promise<string[]> {
    let acc: Set<number> | undefined;
    for (const [a, tok] of indexKeys) {
      const oids = await this.postingOids(tenant, a, tok);
      acc = acc ? new Set(oids.filter((o) => (acc as Set<number>).has(o))) : new Set(oids);
      if (acc.size === 0) return [];
    }
    return this.uidsOf(tenant, [...(acc ?? [])].sort((x, y) => x - y));
  }

  async uidByName(tenant: string, name: string): Promise<string | null> {
    return this.redis.hget(this.k.names(tenant), name);
  }

  async destroyPending(count: number): Promise<Array<{ tenant: string; uid: string }>> {
    const sets = this.cluster ? (await this.tenantIds()).map((t) => this.k.destroyPending(t)) : [this.k.destroyPending('')];
    const out: Array<{ tenant: string; uid: string }> = [];
    for (const s of sets) {
      if (out.length >= count) break;
      const members = await this.redis.srandmember(s, count - out.length);
      for (const m of members) { const i = m.indexOf('/'); out.push({ tenant: m.slice(0, i), uid: m.slice(i + 1) }); }
    }
    return out;
  }

  async dropDestroyPending(tenant: string, uid: string): Promise<void> {
    await this.redis.srem(this.k.destroyPending(tenant), `${tenant}/${uid}`);
  }

  // ---- tenants ----

  async createTenant(t: TenantRecord): Promise<'OK' | 'EXISTS'> {
    const fields = [...flatten(t), ...quotaFields(t.quota)];
    const ks = this.cluster ? [this.k.tenant(t.id)] : [this.k.tenant(t.id), this.k.tenants];
    const r = (await this.scripts.kwCreateTenant(ks.length, ...ks, t.id, ...fields)) as 'OK' | 'EXISTS';
    if (r === 'OK' && this.cluster) await this.redis.sadd(this.k.tenants, t.id);
    return r;
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return tenantFromHash(await this.redis.hgetall(this.k.tenant(id)));
  }

  async updateTenant(id: string, fields: Partial<TenantRecord>): Promise<void> {
    const { quota, ...rest } = fields;
    const f = [...flatten(rest), ...quotaFields(quota)];
    if (f.length) await this.redis.hset(this.k.tenant(id), ...f);
  }

  /** Sets (a number) or clears (undefined: back to the configured default) a tenant's own limits. */
  async setTenantQuota(id: string, change: Partial<Record<keyof Quota, number | null>>): Promise<void> {
    const set: string[] = [];
    const clear: string[] = [];
    for (const [k, f] of QUOTA_FIELDS) {
      const v = change[k];
      if (v === null) clear.push(f);
      else if (v !== undefined) set.push(f, String(v));
    }
    const m = this.redis.multi();
    if (set.length) m.hset(this.k.tenant(id), ...set);
    if (clear.length) m.hdel(this.k.tenant(id), ...clear);
    if (set.length || clear.length) await m.exec();
  }

  async tenantIds(): Promise<string[]> {
    return (await this.redis.smembers(this.k.tenants)).sort();
  }

  /** Removes every key of a tenant (records, indexes, counters, jobs pointer) and the tenant itself. */
  async purgeTenant(id: string): Promise<void> {
    const nodes = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${this.k.tenantSpace(id)}*`, 'COUNT', 500);
        cursor = next;
        // One key at a time on Redis Cluster (UNLINK of several keys must stay in one slot: they do, but stay safe).
        if (batch.length) await (this.cluster ? Promise.all(batch.map((k) => node.unlink(k))) : node.unlink(...batch));
      } while (cursor !== '0');
    }
    if (this.cluster) {
      await this.redis.del(this.k.tenant(id));
      await this.redis.srem(this.k.tenants, id);
    } else {
      await this.redis.multi().del(this.k.tenant(id)).srem(this.k.tenants, id).exec();
    }
  }

  // ---- certificates ----

  async addCertificate(c: CertificateRecord): Promise<string> {
    const add = () => this.scripts.kwAddCert(this.k.tenantCert(c.tenant, c.fingerprint), this.k.tenantCerts(c.tenant), this.k.tenant(c.tenant), c.tenant, c.fingerprint, ...flatten(c));
    if (!this.cluster) return add();
    // Redis Cluster: claim the fingerprint region-wide, then write the record in the tenant's slot.
    const claim = await this.scripts.kwClaimCert(this.k.cert(c.fingerprint), c.tenant);
    if (claim.startsWith('OWNED:')) return claim;
    const r = await add();
    if (r === 'NOTENANT' && claim === 'OK') await this.redis.del(this.k.cert(c.fingerprint));
    return r === 'OK' || r === 'SAME' ? (claim === 'SAME' && r === 'SAME' ? 'SAME' : 'OK') : r;
  }

  async getCertificate(fp: string): Promise<CertificateRecord | undefined> {
    let key = this.k.cert(fp);
    if (this.cluster) {
      const t = await this.redis.hget(key, 'tenant');
      if (!t) return undefined;
      key = this.k.tenantCert(t, fp);
    }
    const h = await this.redis.hgetall(key);
    if (!h.tenant) return undefined;
    return {
      fingerprint: h.fingerprint ?? fp, tenant: h.tenant, subject: h.subject ?? '', issuer: h.issuer ?? '',
      notBefore: h.notBefore ?? '', notAfter: h.notAfter ?? '', addedAt: h.addedAt ?? '', clientAuth: h.clientAuth === 'true',
      ...(h.passwordHash ? { passwordHash: h.passwordHash } : {}),
    };
  }

  /**
   * Sets (a hash) or clears (undefined) a certificate's password and ends its
   * open connections everywhere, as a revocation does; false when there is no
   * such certificate.
   */
  async setCertificatePassword(fp: string, passwordHash: string | undefined, reason: string): Promise<boolean> {
    const notice = JSON.stringify({ fingerprint: fp, reason });
    // One script, after the read: it changes the record only if it still exists and is the same tenant's.
    // Read again when it moved to another tenant meanwhile (removed and registered again).
    for (let attempt = 0; attempt < 3; attempt++) {
      const c = await this.getCertificate(fp);
      if (!c) return false;
      const done = await this.scripts.kwSetCertPassword(this.k.tenantCert(c.tenant, fp), c.tenant, passwordHash ?? '', channels.revocations, notice);
      if (Number(done) === 1) return true;
    }
    return false;
  }

  async certificateFingerprints(tenant: string): Promise<string[]> {
    return (await this.redis.smembers(this.k.tenantCerts(tenant))).sort();
  }

  async certificateCount(tenant: string): Promise<number> {
    return this.redis.scard(this.k.tenantCerts(tenant));
  }

  /** Removes a certificate and tells every replica (and through them every gateway). */
  async removeCertificate(fp: string, reason: string): Promise<CertificateRecord | undefined> {
    const c = await this.getCertificate(fp);
    if (!c) return undefined;
    const notice = JSON.stringify({ fingerprint: fp, reason });
    if (!this.cluster) {
      await this.redis.multi().del(this.k.cert(fp)).srem(this.k.tenantCerts(c.tenant), fp).publish(channels.revocations, notice).exec();
    } else {
      // The record in the tenant's slot first: from then on loadContext refuses the certificate everywhere.
      await this.redis.multi().del(this.k.tenantCert(c.tenant, fp)).srem(this.k.tenantCerts(c.tenant), fp).exec();
      await this.redis.publish(channels.revocations, notice);
      await this.redis.del(this.k.cert(fp));
      this.forgetCertificate(fp);
    }
    return c;
  }

  // ---- rewrap jobs ----

  async claimRewrap(tenant: string, jobId: string, staleAfterMs: number, fields: Record<string, string | number>): Promise<string> {
    if (this.cluster) await this.redis.set(this.k.jobTenant(jobId), tenant);
    return this.scripts.kwClaimRewrap(this.k.tenantRewrap(tenant), this.k.job(jobId, tenant), jobId, String(staleAfterMs), String(Date.now()), this.k.jobPrefix(tenant), ...flatten(fields));
  }

  private async jobKey(id: string): Promise<string | undefined> {
    if (!this.cluster) return this.k.job(id, '');
    const t = await this.redis.get(this.k.jobTenant(id));
    return t ? this.k.job(id, t) : undefined;
  }

  async getJob(id: string): Promise<Record<string, string> | undefined> {
    const key = await this.jobKey(id);
    const h = key ? await this.redis.hgetall(key) : {};
    return h.tenant ? h : undefined;
  }

  async updateJob(id: string, fields: Record<string, string | number>, incr: Record<string, number> = {}): Promise<void> {
    const key = await this.jobKey(id);
    if (!key) return;
    const m = this.redis.multi();
    for (const [k, v] of Object.entries(incr)) m.hincrby(key, k, v);
    m.hset(key, ...flatten({ ...fields, heartbeat: Date.now() }));
    await m.exec();
  }

  // ---- audit and notifications ----

  /**
   * Appends an entry to the audit stream (auto-pipelined, not awaited). An
   * entry Redis did not take (Redis down longer than the connection's
   * retries) is kept in memory and written again every second, in order,
   * until Redis takes it; at most AUDIT_BACKLOG_MAX entries are kept, and
   * one beyond that is dropped with an error log and counted.
   */
  audit(fields: Record<string, string>): void {
    if (this.auditBacklog.length > 0) {
      this.keepAudit(fields);
      return;
    }
    this.redis.xadd(this.k.audit, 'MAXLEN', '~', this.auditMaxLen, '*', ...flatten(fields)).catch((err: unknown) => {
      if (this.auditBacklog.length === 0) this.log.warn({ err }, 'audit stream write failed: entries are kept and written again when Redis answers');
      this.keepAudit(fields);
    });
  }

  /** Audit entries waiting for Redis, and entries dropped because too many were waiting. */
  get auditPending(): { waiting: number; dropped: number } {
    return { waiting: this.auditBacklog.length, dropped: this.auditDropped };
  }

  private keepAudit(fields: Record<string, string>): void {
    if (this.auditBacklog.length >= AUDIT_BACKLOG_MAX) {
      if (this.auditDropped++ % 1000 === 0) this.log.error({ dropped: this.auditDropped }, `audit entries dropped: ${AUDIT_BACKLOG_MAX} are already waiting for Redis`);
      return;
    }
    this.auditBacklog.push(fields);
    if (!this.auditRetry) {
      this.auditRetry = setTimeout(() => void this.writeAuditBacklog(), 1000);
      this.auditRetry.unref();
    }
  }

  private async writeAuditBacklog(): Promise<void> {
    while (this.auditBacklog.length > 0) {
      const batch = this.auditBacklog.slice(0, 500);
      const p = this.redis.pipeline();
      for (const f of batch) p.xadd(this.k.audit, 'MAXLEN', '~', this.auditMaxLen, '*', ...flatten(f));
      const res = await p.exec().catch(() => null);
      // In order: what Redis took leaves the backlog; the first refusal waits for the next attempt.
      let took = 0;
      while (res && took < batch.length && res[took] && !res[took][0]) took++;
      this.auditBacklog.splice(0, took);
      if (took < batch.length) {
        this.auditRetry = setTimeout(() => void this.writeAuditBacklog(), 1000);
        this.auditRetry.unref();
        return;
      }
    }
    this.auditRetry = undefined;
    this.log.info({ dropped: this.auditDropped }, 'audit stream written again: the entries kept while Redis was unreachable are in it');
  }

  /** Drops audit entries older than the retention (approximately: whole stream nodes). */
  async trimAudit(now = Date.now()): Promise<number> {
    if (this.auditRetentionMs <= 0) return 0;
    return Number(await this.redis.xtrim(this.k.audit, 'MINID', '~', String(now - this.auditRetentionMs)));
  }

  async publish(channel: string, message: object): Promise<void> {
    await this.redis.publish(channel, JSON.stringify(message));
  }

  /** Used memory and maxmemory of every primary (INFO memory); maxmemory 0 = no limit. */
  async memory(): Promise<Array<{ node: string; used: number; max: number }>> {
    const nodes = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    return Promise.all(nodes.map(async (n) => {
      const info = await n.info('memory');
      const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return { node: `${n.options.host ?? ''}:${n.options.port ?? ''}`, used: num('used_memory'), max: num('maxmemory') };
    }));
  }
}

function quotaFields(q: Partial<Quota> | undefined): string[] {
  return q ? QUOTA_FIELDS.flatMap(([k, f]) => (q[k] !== undefined ? [f, String(q[k])] : [])) : [];
}

/** Index keys of a record in the layout before format 2 (sets and the creation-order sorted set), for the migration. */
function legacyEntries(k: Keyspace, r: KeyRecord): Array<[string, string, boolean]> {
  const out: Array<[string, string, boolean]> = [[k.legacyObjects(r.tenant), r.uid, true]];
  for (const e of indexEntries(r)) if (e.kind === 'post') out.push([k.legacyIndex(r.tenant, e.attr, e.token), r.uid, false]);
  return out;
}

/** Redis Cluster hash slot of a key (CRC16 of its hash tag, or of the key). */
export function clusterSlot(key: string): number {
  const s = key.indexOf('{');
  let k = key;
  if (s >= 0) {
    const e = key.indexOf('}', s + 1);
    if (e > s + 1) k = key.slice(s + 1, e);
  }
  let crc = 0;
  for (const b of Buffer.from(k)) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
