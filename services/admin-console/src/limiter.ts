// Sign-in attempts per client address, in a sliding window: the console's
// own brake in front of key-lifecycle's per-account limit (which holds across
// replicas). Bounded: the table forgets the oldest addresses when full.

export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(readonly max = 10, readonly windowMs = 5 * 60_000, private readonly maxKeys = 10_000, private readonly now = () => Date.now()) {}

  /** Records an attempt; returns 0 when allowed, else the milliseconds until one is. */
  take(key: string): number {
    const t = this.now();
    const recent = (this.attempts.get(key) ?? []).filter((x) => t - x < this.windowMs);
    if (recent.length >= this.max) {
      this.attempts.set(key, recent);
      return recent[0] + this.windowMs - t;
    }
    recent.push(t);
    this.attempts.delete(key);
    while (this.attempts.size >= this.maxKeys) this.attempts.delete(this.attempts.keys().next().value as string);
    this.attempts.set(key, recent);
    return 0;
  }
}
