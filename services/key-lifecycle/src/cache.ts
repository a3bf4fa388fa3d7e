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

  constructor(readonly ttlMs: number, private readonly maxEntries = 10_000) {}

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
    return e.plaintext;
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

  private wipe(k: string): void {
    const e = this.entries.get(k);
    if (!e) return;
    e.plaintext.fill(0);
    this.entries.delete(k);
  }
}
