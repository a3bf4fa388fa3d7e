// Optional plaintext cache for Get (off by default). Entries live at most
// ttlMs, which is therefore the documented delay before a root key deleted or
// disabled in the provider stops Gets that hit the cache. Every state change
// made through keywarden (Destroy, Revoke, shred, tenant deletion) drops the
// entries at once on every replica, and Get checks the record before the cache.

interface Entry {
  tenant: string;
  sealedRef: string;
  plaintext: Buffer;
  expires: number;
}

export class PlaintextCache {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper?: NodeJS.Timeout;

  constructor(readonly ttlMs: number, private readonly maxEntries = 10_000) {
    // Expired plaintext is wiped within a second of its expiry, not kept in
    // memory until the key is asked for again or pushed out by newer ones.
    if (this.enabled) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(ttlMs, 1000));
      this.sweeper.unref();
    }
  }

  /** Entries held (expired ones included until the next sweep). */
  get size(): number {
    return this.entries.size;
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get(tenant: string, uid: string, sealedRef: string): Buffer | undefined {
    if (!this.enabled) return undefined;
    const e = this.entries.get(`${tenant}/${uid}`);
    if (!e) return undefined;
    if (e.expires <= Date.now() || e.sealedRef !== sealedRef) {
      this.drop(tenant, uid);
      return undefined;
    }
    // A copy: the cache wipes its own buffer when the entry goes (expiry,
    // invalidation, replacement), which may happen while this answer is still
    // on its way to the client.
    return Buffer.from(e.plaintext);
  }

  put(tenant: string, uid: string, sealedRef: string, plaintext: Buffer): void {
    if (!this.enabled) return;
    const k = `${tenant}/${uid}`;
    this.drop(tenant, uid);
    if (this.entries.size >= this.maxEntries) {
      // Oldest first (Map keeps insertion order).
      const oldest = this.entries.keys().next().value as string;
      this.wipe(oldest);
    }
    this.entries.set(k, { tenant, sealedRef, plaintext: Buffer.from(plaintext), expires: Date.now() + this.ttlMs });
  }

  drop(tenant: string, uid?: string): void {
    if (uid !== undefined) { this.wipe(`${tenant}/${uid}`); return; }
    for (const [k, e] of this.entries) if (e.tenant === tenant) this.wipe(k);
  }

  clear(): void {
    for (const k of [...this.entries.keys()]) this.wipe(k);
  }

  /** Wipes everything and stops the sweeper (service shutdown). */
  close(): void {
    clearInterval(this.sweeper);
    this.clear();
  }

  /** Wipes expired entries. Every entry has the same lifetime and put() re-inserts, so they expire in insertion order. */
  sweep(now = Date.now()): void {
    for (const [k, e] of this.entries) {
      if (e.expires > now) break;
      this.wipe(k);
    }
  }

  private wipe(k: string): void {
    const e = this.entries.get(k);
    if (!e) return;
    e.plaintext.fill(0);
    this.entries.delete(k);
  }
}
