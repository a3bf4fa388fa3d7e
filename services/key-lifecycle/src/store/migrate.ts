// One-shot migration at start-up from the layout before record format 2
// (the whole record as JSON in `rec`, one Redis set per indexed value, a
// sorted set for creation order) to today's (codec.ts, indexes.ts), and the
// tenants' usage counters the quotas need. One replica migrates, holding a
// lock it renews; the others wait for it. Each record moves in one write
// script (its hash, its index entries and the usage together, version
// checked), so a crash midway leaves a mix that the next start finishes, and
// a record an older replica writes meanwhile is converted by its next write
// (Store.writeObject reads both formats). The key name of a record does not
// change.
import { randomUUID } from 'crypto';
import { setTimeout as sleep } from 'timers/promises';
import type { Logger } from '@keywarden/common';
import { cloneRecord } from '../model/record';
import type { Store } from './store';

/** The layout this key-lifecycle writes. */
export const LAYOUT = '2';

const LOCK_MS = 30_000;
const CHUNK = 500;
const IN_FLIGHT = 64;

export interface MigrationResult {
  /** Records converted by this replica (0 when another did it, or there was nothing to do). */
  migrated: number;
  ms: number;
}

/** Brings the data to LAYOUT, or waits (up to `waitMs`) while another replica does. */
export async function migrateLayout(store: Store, log: Logger, opts: { waitMs?: number } = {}): Promise<MigrationResult> {
  const start = Date.now();
  const r = store.redis;
  const k = store.k;
  const deadline = start + (opts.waitMs ?? 30 * 60_000);
  for (;;) {
    if ((await r.get(k.layout)) === LAYOUT) return { migrated: 0, ms: Date.now() - start };
    const token = randomUUID();
    if (await r.set(k.layoutLock, token, 'PX', LOCK_MS, 'NX')) {
      const renew = setInterval(() => {
        void r.set(k.layoutLock, token, 'PX', LOCK_MS, 'XX').catch(() => undefined);
      }, LOCK_MS / 3);
      renew.unref();
      try {
        const migrated = await migrateAll(store, log);
        await r.set(k.layout, LAYOUT);
        const ms = Date.now() - start;
        if (migrated > 0) log.info({ migrated, ms }, `Redis data migrated to layout ${LAYOUT}`);
        return { migrated, ms };
      } finally {
        clearInterval(renew);
        if ((await r.get(k.layoutLock).catch(() => null)) === token) await r.del(k.layoutLock).catch(() => undefined);
      }
    }
    if (Date.now() > deadline) throw new Error(`another key-lifecycle replica has been migrating the Redis data for ${Math.round((Date.now() - start) / 1000)} s; giving up`);
    log.info('another replica is migrating the Redis data; waiting');
    await sleep(500);
  }
}

async function migrateAll(store: Store, log: Logger): Promise<number> {
  let total = 0;
  for (const t of await store.tenantIds()) total += await migrateTenant(store, log, t);
  return total;
}

/** Converts every record of a tenant listed in the old creation-order set, oldest first (object numbers keep that order). */
async function migrateTenant(store: Store, log: Logger, tenant: string): Promise<number> {
  const zkey = store.k.legacyObjects(tenant);
  let done = 0;
  for (;;) {
    // Every conversion removes its uid from the set: read from the start again.
    const uids = await store.redis.zrange(zkey, 0, CHUNK - 1);
    if (uids.length === 0) break;
    // Numbers in creation order, taken together; the writes then run side by side.
    const last = await store.redis.hincrby(store.k.meta(tenant), 'seq', uids.length);
    const oids = new Map(uids.map((u, i) => [u, last - uids.length + 1 + i]));
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, uids.length) }, async () => {
      while (next < uids.length) {
        const uid = uids[next++];
        if (await convert(store, tenant, uid, oids.get(uid) as number)) done++;
      }
    }));
    log.info({ tenant, migrated: done }, 'migrating records');
  }
  return done;
}

/** One record: true when converted, false when there was nothing to convert. */
async function convert(store: Store, tenant: string, uid: string, oid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 16; attempt++) {
    const cur = await store.getObject(tenant, uid);
    if (!cur || !cur.legacy) {
      // Gone, or converted already: only its entry in the old set is left.
      await store.redis.zrem(store.k.legacyObjects(tenant), uid);
      return false;
    }
    const r = await store.writeObject(cur, { ...cloneRecord(cur.rec), oid }, { wait: false, quotas: false });
    if (r === 'OK') return true;
    if (r !== 'CONFLICT') throw new Error(`migrating ${tenant}/${uid}: ${r}`);
  }
  throw new Error(`migrating ${tenant}/${uid}: too many concurrent changes`);
}
