import { prom } from '@keywarden/common';

// The key cache: plaintext of keys this replica unwrapped, so a Get need not
// ask the root-key provider every time. On by default (docs/key-lifecycle.md,
// "Key cache"). What makes it safe:
//   - an entry serves for at most ttlMs after its unwrap (not after its last
//     use), which is therefore the delay before a change made directly in the
//     provider (a key or root key deleted or disabled in its console) stops
//     Gets; 0 turns the cache off (strict mode);
//   - an entry serves only for the tag it was stored under, which the caller
//     derives from the record version, the sealed reference and the tenant's
//     provider fields: any change made through keywarden misses at once on
//     every replica, whether or not its pub/sub invalidation has arrived;
//   - invalidations and a cut Redis subscription (suspend) drop entries, and
//     an unwrap that was in flight meanwhile is answered but not stored;
//   - bounded in entries, least recently used dropped first; every entry that
//     goes (dropped, expired, replaced, evicted) has its plaintext zeroed, and
//     expired ones go within about a second, asked for or not;
//   - answers are copies, so zeroing an entry never zeroes an answer still on
//     its way to the client.
// Plaintext lives only here: never in Redis, on disk, in logs or in metrics
// (they count hits, misses, evictions and entries).

/** Default bound on entries: about 100,000 keys (roughly 55 MB of heap when full). */
export const DEFAULT_CACHE_MAX_ENTRIES = 100_000;

/** Default lifetime of an entry after its unwrap. */
export const DEFAULT_CACHE_TTL_MS = 30_000;

interface Entry {
  key: string;
  tenant: string;
  tag: string;
  plaintext: Buffer;
  expires: number;
  /** Place in use order (moves on every hit). */
  lru: Link;
  /** Place in expiry order (never moves). */
  age: Link;
}

interface Link {
  entry: Entry;
  prev?: Link;
  next?: Link;
}

/**
 * A doubly linked list: O(1) append, removal anywhere and move to the end.
 * (A Map's insertion order would do, but V8 leaves a hole for every deleted
 * entry until it rehashes, so finding the oldest entry of a full cache with
 * churn costs a walk over the holes: about 50 µs per eviction at 100,000.)
 */
class Chain {
  head?: Link;
  tail?: Link;

  push(l: Link): void {
    this.insertAfter(l, this.tail);
  }

  /** Inserts `l` after `at`, or first when `at` is undefined. */
  insertAfter(l: Link, at: Link | undefined): void {
    l.prev = at;
    l.next = at ? at.next : this.head;
    if (l.next) l.next.prev = l;
    else this.tail = l;
    if (at) at.next = l;
    else this.head = l;
  }

  remove(l: Link): void {
    if (l.prev) l.prev.next = l.next;
    else if (this.head === l) this.head = l.next;
    if (l.next) l.next.prev = l.prev;
    else if (this.tail === l) this.tail = l.prev;
    l.prev = l.next = undefined;
  }

  toEnd(l: Link): void {
    if (this.tail === l) return;
    this.remove(l);
    this.push(l);
  }
}

export interface PutOptions {
  /** When the unwrap started (default now): the entry expires ttlMs after it. */
  since?: number;
  /** `epoch` read before the unwrap started: the entry is not stored if anything was invalidated since. */
  epoch?: number;
}

export class PlaintextCache {
  private readonly entries = new Map<string, Entry>();
  /** Least recently used first. */
  private readonly byUse = new Chain();
  /** Expiring first first. */
  private readonly byAge = new Chain();
  private readonly sweeper?: NodeJS.Timeout;
  private suspended = false;
  private invalidations = 0;
  /** Counters for metrics (never contents). */
  readonly stats = { hits: 0, misses: 0, evictions: 0, expirations: 0 };

  constructor(readonly ttlMs: number, readonly maxEntries = DEFAULT_CACHE_MAX_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('the key cache needs room for at least one entry');
    if (this.enabled) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(ttlMs, 1000));
      this.sweeper.unref();
    }
  }

  /** Entries held (expired ones included until the next sweep, at most about a second). */
  get size(): number {
    return this.entries.size;
  }

  /** Configured on (a lifetime above 0); see `serving` for whether it answers now. */
  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** On, and not suspended. */
  get serving(): boolean {
    return this.enabled && !this.suspended;
  }

  /**
   * Changes on every invalidation (drop, clear, suspend, resume). Read it
   * before an unwrap and give it to put(), which then refuses a result that
   * an invalidation overtook.
   */
  get epoch(): number {
    return this.invalidations;
  }

  get(tenant: string, uid: string, tag: string): Buffer | undefined {
    if (!this.serving) return undefined;
    const e = this.entries.get(keyOf(tenant, uid));
    if (!e || e.expires <= Date.now() || e.tag !== tag) {
      // Expired, or stored for another record version, sealed reference or provider configuration.
      if (e) this.wipe(e);
      this.stats.misses++;
      return undefined;
    }
    this.byUse.toEnd(e.lru);
    this.stats.hits++;
    // A copy: the cache wipes its own buffer when the entry goes, which may
    // happen while this answer is still on its way to the client.
    return Buffer.from(e.plaintext);
  }

  /** Stores a copy of `plaintext` (the caller keeps its own buffer). */
  put(tenant: string, uid: string, tag: string, plaintext: Buffer, o: PutOptions = {}): void {
    if (!this.serving) return;
    if (o.epoch !== undefined && o.epoch !== this.invalidations) return;
    const expires = (o.since ?? Date.now()) + this.ttlMs;
    if (expires <= Date.now()) return;
    const k = keyOf(tenant, uid);
    const old = this.entries.get(k);
    if (old) this.wipe(old);
    while (this.entries.size >= this.maxEntries && this.byUse.head) {
      this.wipe(this.byUse.head.entry);
      this.stats.evictions++;
    }
    const e = { key: k, tenant, tag, plaintext: Buffer.from(plaintext), expires } as Entry;
    e.lru = { entry: e };
    e.age = { entry: e };
    this.entries.set(k, e);
    this.byUse.push(e.lru);
    // Every entry has the same lifetime, so this is nearly storage order: only
    // an unwrap that took longer than the ones stored after it goes further back.
    let at = this.byAge.tail;
    while (at && at.entry.expires > expires) at = at.prev;
    this.byAge.insertAfter(e.age, at);
  }

  /** Drops one key of a tenant, or all of them (an invalidation). */
  drop(tenant: string, uid?: string): void {
    this.invalidations++;
    if (uid !== undefined) {
      const e = this.entries.get(keyOf(tenant, uid));
      if (e) this.wipe(e);
      return;
    }
    for (const e of [...this.entries.values()]) if (e.tenant === tenant) this.wipe(e);
  }

  clear(): void {
    this.invalidations++;
    for (const e of [...this.entries.values()]) this.wipe(e);
  }

  /**
   * Clears and answers nothing until resume(): this replica's Redis
   * subscription is down, so invalidations may be passing it by.
   */
  suspend(): void {
    this.suspended = true;
    this.clear();
  }

  /** Serves again after suspend(), from empty (resubscribed to invalidations). */
  resume(): void {
    this.clear();
    this.suspended = false;
  }

  /** Wipes everything and stops the sweeper (service shutdown). */
  close(): void {
    clearInterval(this.sweeper);
    this.suspended = true;
    this.clear();
  }

  /** Wipes expired entries (in expiry order; stops at the first that is still live). */
  sweep(now = Date.now()): void {
    for (let l = this.byAge.head; l && l.entry.expires <= now; l = this.byAge.head) {
      this.wipe(l.entry);
      this.stats.expirations++;
    }
  }

  private wipe(e: Entry): void {
    e.plaintext.fill(0);
    this.byUse.remove(e.lru);
    this.byAge.remove(e.age);
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
  }
}

const keyOf = (tenant: string, uid: string) => `${tenant}/${uid}`;

/** A Counter that reports a running total kept elsewhere (read when scraped). */
function counterOf(registry: prom.Registry, m: { name: string; help: string }, read: () => number): void {
  new prom.Counter({
    ...m, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** Key cache metrics: counts and size only. */
export function registerCacheMetrics(registry: prom.Registry, cache: PlaintextCache): void {
  new prom.Gauge({
    name: 'keywarden_lifecycle_key_cache_entries', help: 'Keys in the key cache', registers: [registry],
    collect() { this.set(cache.size); },
  });
  new prom.Gauge({
    name: 'keywarden_lifecycle_key_cache_serving', help: '1 while the key cache answers (on, and the Redis subscription is up)', registers: [registry],
    collect() { this.set(cache.serving ? 1 : 0); },
  });
  counterOf(registry, { name: 'keywarden_lifecycle_key_cache_hits_total', help: 'Gets answered from the key cache' }, () => cache.stats.hits);
  counterOf(registry, { name: 'keywarden_lifecycle_key_cache_misses_total', help: 'Gets the key cache could not answer' }, () => cache.stats.misses);
  counterOf(registry, { name: 'keywarden_lifecycle_key_cache_evictions_total', help: 'Entries dropped to stay within the entry bound (least recently used)' }, () => cache.stats.evictions);
  counterOf(registry, { name: 'keywarden_lifecycle_key_cache_expirations_total', help: 'Entries wiped at the end of their lifetime' }, () => cache.stats.expirations);
}
