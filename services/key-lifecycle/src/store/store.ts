import Redis from 'ioredis';
import type { Logger } from '@keywarden/common';
import { nameValues } from '../model/attributes';
import { decodeRecord, encodeRecord, KeyRecord } from '../model/record';
import { nextTransitionAt } from '../model/state';
import { indexToken } from '../model/values';
import { channels, keys } from './keys';
import { ADD_CERT, CLAIM_REWRAP, CREATE_TENANT, LOAD_CONTEXT, WRITE_OBJECT } from './scripts';

// Every Redis access of key-lifecycle. No plaintext key material reaches this
// module: records hold sealed references only.

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
}

export interface Versioned {
  ver: string;
  rec: KeyRecord;
}

export interface CallerContext {
  tenant: TenantRecord;
  certNotAfter: string;
  object?: Versioned;
}

export type WriteResult = 'OK' | 'EXISTS' | 'GONE' | 'CONFLICT' | 'NOTENANT' | `TAKEN:${string}`;

interface IndexEntry {
  op: 's' | 'z' | 'u';
  key: string;
  member: string;
  arg: string;
}

type Scripts = {
  kwLoadContext(certKey: string, uid: string): Promise<[string, string[], string, string, string] | null>;
  kwWriteObject(...args: Array<string | number>): Promise<string>;
  kwAddCert(...args: string[]): Promise<string>;
  kwCreateTenant(...args: string[]): Promise<string>;
  kwClaimRewrap(...args: string[]): Promise<string>;
};

function tenantFromFlat(flat: string[]): TenantRecord | undefined {
  if (flat.length === 0) return undefined;
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]] = flat[i + 1];
  return tenantFromHash(h);
}

function tenantFromHash(h: Record<string, string>): TenantRecord | undefined {
  if (!h.id) return undefined;
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
  };
}

function flatten(o: object): string[] {
  return Object.entries(o).flatMap(([k, v]) => [k, String(v)]);
}

const enc = encodeURIComponent;

/** Index entries a record implies; writes apply the difference between old and new. */
export function indexEntries(r: KeyRecord): IndexEntry[] {
  const t = r.tenant;
  const s = (attr: string, token: string): IndexEntry => ({ op: 's', key: keys.index(t, attr, token), member: r.uid, arg: '' });
  const out: IndexEntry[] = [
    { op: 'z', key: keys.objects(t), member: r.uid, arg: String(r.createdMs) },
    s('type', String(r.objectType)),
    s('state', String(r.state)),
    s('crkv', enc(r.crkVersion)),
  ];
  if (r.algorithm !== undefined) out.push(s('alg', String(r.algorithm)));
  for (const g of r.attrs['Object Group']?.items ?? []) out.push(s('group', indexToken(g.v)));
  for (const [name, b] of Object.entries(r.attrs)) {
    if (!name.startsWith('x-') && !name.startsWith('y-')) continue;
    for (const it of b.items) out.push(s(`c:${enc(name)}`, indexToken(it.v)));
  }
  for (const n of nameValues(r)) out.push({ op: 'u', key: keys.names(t), member: n, arg: r.uid });
  const due = nextTransitionAt(r);
  if (due !== undefined) out.push({ op: 'z', key: keys.timed(t), member: r.uid, arg: String(due) });
  if (r.sealedDestroyPending) out.push({ op: 's', key: keys.destroyPending, member: `${t}/${r.uid}`, arg: '' });
  return out;
}

/** A failure of Redis itself (down, refusing writes, timing out), as opposed to a bug. */
export function isRedisFailure(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return ['ReplyError', 'MaxRetriesPerRequestError', 'AbortError', 'NotReplicatedError'].includes(e.name)
    || /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|Command timed out|enableOfflineQueue/.test(e.message);
}

const entryId = (e: IndexEntry) => `${e.op}\u0000${e.key}\u0000${e.member}\u0000${e.arg}`;

/** A record write that reached the primary but not the required replicas in time. */
export class NotReplicatedError extends Error {
  override name = 'NotReplicatedError';
  constructor(readonly acked: number, readonly wanted: number) {
    super(`write acknowledged by ${acked} of ${wanted} required replicas`);
  }
}

export interface StoreOptions {
  /**
   * Connection for object writes. WAIT counts the writes of its own
   * connection and blocks it, so with replicas configured writes get their
   * own connection and reads never queue behind a WAIT.
   */
  writer?: Redis;
  waitReplicas?: number;
  waitTimeoutMs?: number;
  auditMaxLen?: number;
}

function defineScripts(r: Redis): Scripts {
  r.defineCommand('kwLoadContext', { numberOfKeys: 1, lua: LOAD_CONTEXT });
  r.defineCommand('kwWriteObject', { lua: WRITE_OBJECT });
  r.defineCommand('kwAddCert', { numberOfKeys: 3, lua: ADD_CERT });
  r.defineCommand('kwCreateTenant', { numberOfKeys: 2, lua: CREATE_TENANT });
  r.defineCommand('kwClaimRewrap', { numberOfKeys: 2, lua: CLAIM_REWRAP });
  return r as unknown as Scripts;
}

export class Store {
  readonly redis: Redis;
  readonly writer: Redis;
  private readonly scripts: Scripts;
  private readonly writerScripts: Scripts;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly auditMaxLen: number;

  constructor(redis: Redis, private readonly log: Logger, opts: StoreOptions = {}) {
    this.redis = redis;
    this.writer = opts.writer ?? redis;
    this.scripts = defineScripts(redis);
    this.writerScripts = this.writer === redis ? this.scripts : defineScripts(this.writer);
    this.waitReplicas = opts.waitReplicas ?? 0;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 1000;
    this.auditMaxLen = opts.auditMaxLen ?? 1_000_000;
  }

  // ---- callers and objects ----

  /** One round trip: who the caller is, its tenant, and the object if a uid is given. */
  async loadContext(fingerprint: string, uid = ''): Promise<CallerContext | undefined> {
    const r = await this.scripts.kwLoadContext(keys.cert(fingerprint), uid);
    if (!r) return undefined;
    const tenant = tenantFromFlat(r[1]);
    if (!tenant || tenant.status !== 'active') return undefined;
    const ctx: CallerContext = { tenant, certNotAfter: r[2] };
    if (r[3] && r[4]) ctx.object = { ver: r[3], rec: decodeRecord(r[4]) };
    return ctx;
  }

  async getObject(tenant: string, uid: string): Promise<Versioned | undefined> {
    const [ver, rec] = await this.redis.hmget(keys.object(tenant, uid), 'ver', 'rec');
    return ver && rec ? { ver, rec: decodeRecord(rec) } : undefined;
  }

  async getObjects(tenant: string, uids: string[]): Promise<Array<Versioned | undefined>> {
    if (uids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const uid of uids) p.hmget(keys.object(tenant, uid), 'ver', 'rec');
    const res = (await p.exec()) ?? [];
    return res.map(([err, v]) => {
      if (err) throw err;
      const [ver, rec] = v as [string | null, string | null];
      return ver && rec ? { ver, rec: decodeRecord(rec) } : undefined;
    });
  }

  /**
   * Creates (before undefined), updates, or deletes (after undefined) a record
   * with its index entries, if `ver` is still current.
   */
  async writeObject(before: Versioned | undefined, after: KeyRecord | undefined, opts: { wait?: boolean } = {}): Promise<WriteResult> {
    const rec = (after ?? before?.rec) as KeyRecord;
    const mode = !before ? 'create' : !after ? 'delete' : 'update';
    const oldE = before ? indexEntries(before.rec) : [];
    const newE = after ? indexEntries(after) : [];
    const oldIds = new Set(oldE.map(entryId));
    const newIds = new Set(newE.map(entryId));
    const removed = oldE.filter((e) => !newIds.has(entryId(e)));
    const added = newE.filter((e) => !oldIds.has(entryId(e)));
    const keyList: string[] = [keys.object(rec.tenant, rec.uid), keys.tenant(rec.tenant)];
    const keyIndex = new Map<string, number>();
    const ki = (k: string) => {
      let i = keyIndex.get(k);
      if (i === undefined) { keyList.push(k); i = keyList.length; keyIndex.set(k, i); }
      return i;
    };
    const ops: Array<string | number> = [];
    for (const e of removed) ops.push(e.op === 's' ? 'srem' : e.op === 'z' ? 'zrem' : 'udel', ki(e.key), e.member, e.arg);
    for (const e of added) ops.push(e.op === 's' ? 'sadd' : e.op === 'z' ? 'zadd' : 'uset', ki(e.key), e.member, e.arg);
    const args = [keyList.length, ...keyList, mode, before?.ver ?? '', after ? encodeRecord(after) : '', ops.length / 4, ...ops];
    const result = (await this.writerScripts.kwWriteObject(...args)) as WriteResult;
    if (result === 'OK' && this.waitReplicas > 0 && opts.wait !== false) {
      const acked = await this.waitForReplicas();
      if (acked < this.waitReplicas) throw new NotReplicatedError(acked, this.waitReplicas);
    }
    return result;
  }

  /** Replicas every record write must reach (Redis WAIT); 0 = none. */
  get replicasWanted(): number {
    return this.waitReplicas;
  }

  /** How many replicas confirmed the writes made so far on the write connection (WAIT). */
  async waitForReplicas(): Promise<number> {
    return Number(await this.writer.call('WAIT', this.waitReplicas, this.waitTimeoutMs));
  }

  /** Replicas currently attached to the primary. */
  async connectedReplicas(): Promise<number> {
    const m = /connected_slaves:(\d+)/.exec(await this.writer.info('replication'));
    return m ? Number(m[1]) : 0;
  }

  async objectCount(tenant: string): Promise<number> {
    return this.redis.zcard(keys.objects(tenant));
  }

  async listObjectIds(tenant: string, start: number, stop: number): Promise<string[]> {
    return this.redis.zrange(keys.objects(tenant), start, stop);
  }

  /** Uids of a tenant whose date-driven transition is due. */
  async dueTransitions(tenant: string, now: number): Promise<string[]> {
    return this.redis.zrangebyscore(keys.timed(tenant), '-inf', now, 'LIMIT', 0, 1000);
  }

  async indexMembers(tenant: string, attr: string, token: string): Promise<string[]> {
    return this.redis.smembers(keys.index(tenant, attr, token));
  }

  async indexCount(tenant: string, attr: string, token: string): Promise<number> {
    return this.redis.scard(keys.index(tenant, attr, token));
  }

  async intersect(indexKeys: Array<[string, string]>, tenant: string): Promise<string[]> {
    return this.redis.sinter(...indexKeys.map(([a, t]) => keys.index(tenant, a, t)));
  }

  async uidByName(tenant: string, name: string): Promise<string | null> {
    return this.redis.hget(keys.names(tenant), name);
  }

  async destroyPending(count: number): Promise<Array<{ tenant: string; uid: string }>> {
    const members = await this.redis.srandmember(keys.destroyPending, count);
    return members.map((m) => { const i = m.indexOf('/'); return { tenant: m.slice(0, i), uid: m.slice(i + 1) }; });
  }

  async dropDestroyPending(tenant: string, uid: string): Promise<void> {
    await this.redis.srem(keys.destroyPending, `${tenant}/${uid}`);
  }

  // ---- tenants ----

  async createTenant(t: TenantRecord): Promise<'OK' | 'EXISTS'> {
    return (await this.scripts.kwCreateTenant(keys.tenant(t.id), keys.tenants, t.id, ...flatten(t))) as 'OK' | 'EXISTS';
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return tenantFromHash(await this.redis.hgetall(keys.tenant(id)));
  }

  async updateTenant(id: string, fields: Partial<TenantRecord>): Promise<void> {
    const f = flatten(fields);
    if (f.length) await this.redis.hset(keys.tenant(id), ...f);
  }

  async tenantIds(): Promise<string[]> {
    return (await this.redis.smembers(keys.tenants)).sort();
  }

  /** Removes every key of a tenant (records, indexes, jobs pointer) and the tenant itself. */
  async purgeTenant(id: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${keys.tenantSpace(id)}*`, 'COUNT', 500);
      cursor = next;
      if (batch.length) await this.redis.unlink(...batch);
    } while (cursor !== '0');
    await this.redis.multi().del(keys.tenant(id)).srem(keys.tenants, id).exec();
  }

  // ---- certificates ----

  async addCertificate(c: CertificateRecord): Promise<string> {
    return this.scripts.kwAddCert(keys.cert(c.fingerprint), keys.tenantCerts(c.tenant), keys.tenant(c.tenant), c.tenant, ...flatten(c));
  }

  async getCertificate(fp: string): Promise<CertificateRecord | undefined> {
    const h = await this.redis.hgetall(keys.cert(fp));
    if (!h.tenant) return undefined;
    return {
      fingerprint: h.fingerprint ?? fp, tenant: h.tenant, subject: h.subject ?? '', issuer: h.issuer ?? '',
      notBefore: h.notBefore ?? '', notAfter: h.notAfter ?? '', addedAt: h.addedAt ?? '', clientAuth: h.clientAuth === 'true',
    };
  }

  async certificateFingerprints(tenant: string): Promise<string[]> {
    return (await this.redis.smembers(keys.tenantCerts(tenant))).sort();
  }

  async certificateCount(tenant: string): Promise<number> {
    return this.redis.scard(keys.tenantCerts(tenant));
  }

  /** Removes a certificate and tells every replica (and through them every gateway). */
  async removeCertificate(fp: string, reason: string): Promise<CertificateRecord | undefined> {
    const c = await this.getCertificate(fp);
    if (!c) return undefined;
    await this.redis.multi()
      .del(keys.cert(fp))
      .srem(keys.tenantCerts(c.tenant), fp)
      .publish(channels.revocations, JSON.stringify({ fingerprint: fp, reason }))
      .exec();
    return c;
  }

  // ---- rewrap jobs ----

  async claimRewrap(tenant: string, jobId: string, staleAfterMs: number, fields: Record<string, string | number>): Promise<string> {
    return this.scripts.kwClaimRewrap(keys.tenantRewrap(tenant), keys.job(jobId), jobId, String(staleAfterMs), String(Date.now()), ...flatten(fields));
  }

  async getJob(id: string): Promise<Record<string, string> | undefined> {
    const h = await this.redis.hgetall(keys.job(id));
    return h.tenant ? h : undefined;
  }

  async updateJob(id: string, fields: Record<string, string | number>, incr: Record<string, number> = {}): Promise<void> {
    const m = this.redis.multi();
    for (const [k, v] of Object.entries(incr)) m.hincrby(keys.job(id), k, v);
    m.hset(keys.job(id), ...flatten({ ...fields, heartbeat: Date.now() }));
    await m.exec();
  }

  // ---- audit and notifications ----

  audit(fields: Record<string, string>): void {
    this.redis.xadd(keys.audit, 'MAXLEN', '~', this.auditMaxLen, '*', ...flatten(fields)).catch((err: unknown) => {
      this.log.warn({ err }, 'audit stream write failed');
    });
  }

  async publish(channel: string, message: object): Promise<void> {
    await this.redis.publish(channel, JSON.stringify(message));
  }
}
