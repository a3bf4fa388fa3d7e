// Redis key layout (documented in docs/key-lifecycle.md). Tenant ids are
// [a-z0-9-] only, so they are safe inside keys and SCAN patterns.

export const PREFIX = 'kw:';

export const keys = {
  tenants: `${PREFIX}tenants`,
  tenant: (t: string) => `${PREFIX}tenant:${t}`,
  cert: (fp: string) => `${PREFIX}cert:${fp}`,
  tenantCerts: (t: string) => `${PREFIX}t:${t}:certs`,
  tenantSpace: (t: string) => `${PREFIX}t:${t}:`,
  object: (t: string, uid: string) => `${PREFIX}t:${t}:obj:${uid}`,
  objects: (t: string) => `${PREFIX}t:${t}:objs`,
  names: (t: string) => `${PREFIX}t:${t}:names`,
  index: (t: string, attr: string, token: string) => `${PREFIX}t:${t}:ix:${attr}:${token}`,
  timed: (t: string) => `${PREFIX}t:${t}:timed`,
  tenantRewrap: (t: string) => `${PREFIX}t:${t}:rewrap`,
  job: (id: string) => `${PREFIX}job:${id}`,
  destroyPending: `${PREFIX}destroy-pending`,
  audit: `${PREFIX}audit`,
};

export const channels = {
  /** JSON { fingerprint, reason }: a certificate's access ended. */
  revocations: `${PREFIX}revocations`,
  /** JSON { tenant, uid? }: drop cached plaintext (tenant-wide when uid is absent). */
  invalidate: `${PREFIX}invalidate`,
};
