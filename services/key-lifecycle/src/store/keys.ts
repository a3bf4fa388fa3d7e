// Redis key layout (documented in docs/key-lifecycle.md). Tenant ids are
// [a-z0-9-] only, so they are safe inside keys and SCAN patterns.
//
// Two layouts, the same but for the hash tags Redis Cluster needs: on one
// primary (with Sentinel) the names are those keywarden always used; on
// Redis Cluster every key of a tenant carries the tag {<tenant id>}, so that
// all of them live in one slot and each write script stays on one node, and
// the few region-wide keys share the tag {kw}.

export const PREFIX = 'kw:';

export interface Keyspace {
  readonly cluster: boolean;
  tenants: string;
  tenant(t: string): string;
  /** Certificate → tenant (region-wide); on one primary the whole certificate record. */
  cert(fp: string): string;
  /** The certificate record in its tenant's slot (Redis Cluster only: on one primary, cert()). */
  tenantCert(t: string, fp: string): string;
  tenantCerts(t: string): string;
  /** Prefix of every key of the tenant (SCAN pattern, key names built inside scripts). */
  tenantSpace(t: string): string;
  object(t: string, uid: string): string;
  /** Counters of the tenant: last object number, usage (quotas). */
  meta(t: string): string;
  names(t: string): string;
  timed(t: string): string;
  /** Object number → uid, 128 objects per hash, in creation order. */
  order(t: string, bucket: number): string;
  /** Index postings (store/indexes.ts), 4096 hashes per tenant by the first 3 hex digits of an entry's hash. */
  postings(t: string, bucket: string): string;
  tenantRewrap(t: string): string;
  /** A rewrap job: region-wide on one primary, in its tenant's slot on Redis Cluster. */
  job(id: string, t: string): string;
  /** Prefix of the tenant's job keys, as the claim script builds them. */
  jobPrefix(t: string): string;
  /** Where the tenant of a rewrap job is found (Redis Cluster only). */
  jobTenant(id: string): string;
  /** Destroyed records whose sealed object awaits removal: one set for the region, or one per tenant on Redis Cluster. */
  destroyPending(t: string): string;
  audit: string;
  /** Console operator accounts (admin/operators.ts): the set of names, one hash per account, failed sign-ins per account (all in one slot on Redis Cluster). */
  operators: string;
  operator(name: string): string;
  operatorFailures(name: string): string;
  /** Layout version of the data (store/migrate.ts) and the lock of its migration. */
  layout: string;
  layoutLock: string;
  // The layout before format 2 (read by the migration only).
  legacyObjects(t: string): string;
  legacyIndex(t: string, attr: string, token: string): string;
}

export function keyspace(cluster = false): Keyspace {
  // {t} on Redis Cluster: one slot per tenant. {kw}: the region-wide keys.
  const tt = (t: string) => (cluster ? `{${t}}` : t);
  const g = cluster ? `${PREFIX}{kw}:` : PREFIX;
  const space = (t: string) => `${PREFIX}t:${tt(t)}:`;
  return {
    cluster,
    tenants: `${g}tenants`,
    tenant: (t) => `${PREFIX}tenant:${tt(t)}`,
    cert: (fp) => `${PREFIX}cert:${fp}`,
    tenantCert: (t, fp) => (cluster ? `${space(t)}cert:${fp}` : `${PREFIX}cert:${fp}`),
    tenantCerts: (t) => `${space(t)}certs`,
    tenantSpace: space,
    object: (t, uid) => `${space(t)}obj:${uid}`,
    meta: (t) => `${space(t)}meta`,
    names: (t) => `${space(t)}names`,
    timed: (t) => `${space(t)}timed`,
    order: (t, bucket) => `${space(t)}ord:${bucket.toString(36)}`,
    postings: (t, bucket) => `${space(t)}px:${bucket}`,
    tenantRewrap: (t) => `${space(t)}rewrap`,
    job: (id, t) => (cluster ? `${space(t)}job:${id}` : `${PREFIX}job:${id}`),
    jobPrefix: (t) => (cluster ? `${space(t)}job:` : `${PREFIX}job:`),
    jobTenant: (id) => `${PREFIX}job:{${id}}:tenant`,
    destroyPending: (t) => (cluster ? `${space(t)}destroy-pending` : `${PREFIX}destroy-pending`),
    audit: `${PREFIX}audit`,
    operators: `${g}operators`,
    operator: (name) => `${g}operator:${name}`,
    operatorFailures: (name) => `${g}operator-failures:${name}`,
    layout: `${g}layout`,
    layoutLock: `${g}layout-lock`,
    legacyObjects: (t) => `${space(t)}objs`,
    legacyIndex: (t, attr, token) => `${space(t)}ix:${attr}:${token}`,
  };
}

/** The layout on one primary (with or without Sentinel): the default. */
export const keys = keyspace(false);

export const channels = {
  /** JSON { fingerprint, reason }: a certificate's access ended. */
  revocations: `${PREFIX}revocations`,
  /** JSON { tenant, uid? }: drop cached plaintext (tenant-wide when uid is absent). */
  invalidate: `${PREFIX}invalidate`,
};
