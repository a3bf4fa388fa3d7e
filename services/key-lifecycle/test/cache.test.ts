// The key cache and the unwrap gate as units: lifetime from the unwrap, the
// entry bound in LRU order, zeroing of every entry that goes, answers that
// outlive their entry, suspension while invalidations may be missed, and
// per-tenant unwrap limits with coalescing. The same behaviours end to end:
// key-cache.test.ts and unwrap-limits.test.ts.
import { grpc, ServiceError } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import { PlaintextCache, UnwrapGate } from '@keywarden/key-lifecycle';

const key = () => Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
const zero = Buffer.alloc(32);

/** The cache's own buffer for an entry (tests only: to check it is zeroed when the entry goes). */
function internal(cache: PlaintextCache, tenant: string, uid: string): Buffer {
  const e = (cache as unknown as { entries: Map<string, { plaintext: Buffer }> }).entries.get(`${tenant}/${uid}`);
  if (!e) throw new Error(`no entry ${tenant}/${uid}`);
  return e.plaintext;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PlaintextCache', () => {
  let cache: PlaintextCache | undefined;
  afterEach(() => cache?.close());

  it('is off with a lifetime of 0', () => {
    cache = new PlaintextCache(0);
    cache.put('t', 'u', 'ref', key());
    expect(cache.get('t', 'u', 'ref')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.serving).toBe(false);
  });

  it('answers within the lifetime, for the same tag only', () => {
    cache = new PlaintextCache(60_000);
    cache.put('t', 'u', 'ref-1', key());
    expect(cache.get('t', 'u', 'ref-1')).toEqual(key());
    const held = internal(cache, 't', 'u');
    expect(cache.get('t', 'u', 'ref-2')).toBeUndefined(); // another record version or sealed reference: dropped, zeroed
    expect(cache.size).toBe(0);
    expect(held).toEqual(zero);
  });

  it('hands out a copy: wiping the entry (invalidation, replacement, expiry) does not zero an answer in flight', () => {
    cache = new PlaintextCache(60_000);
    cache.put('t', 'u', 'ref', key());
    const inFlight = cache.get('t', 'u', 'ref')!;
    cache.drop('t', 'u');
    expect(inFlight).toEqual(key());
    cache.put('t', 'u', 'ref', key());
    const again = cache.get('t', 'u', 'ref')!;
    cache.put('t', 'u', 'ref-2', key()); // replaces (and wipes) the entry
    cache.clear();
    expect(again).toEqual(key());
  });

  it('keeps a copy of what it is given: the caller may zero its own buffer', () => {
    cache = new PlaintextCache(60_000);
    const given = key();
    cache.put('t', 'u', 'ref', given);
    given.fill(0);
    expect(cache.get('t', 'u', 'ref')).toEqual(key());
  });

  it('never holds more than its entry bound, drops the least recently used first, and zeroes what it drops', () => {
    cache = new PlaintextCache(60_000, 3);
    for (const u of ['a', 'b', 'c']) cache.put('t', u, 'ref', key());
    const a = internal(cache, 't', 'a');
    const b = internal(cache, 't', 'b');
    expect(cache.get('t', 'a', 'ref')).toEqual(key()); // a is now the most recently used; b the least
    cache.put('t', 'd', 'ref', key());
    expect(cache.size).toBe(3);
    expect(b).toEqual(zero);
    expect(a).toEqual(key());
    expect(cache.get('t', 'b', 'ref')).toBeUndefined();
    expect(['a', 'c', 'd'].map((u) => cache!.get('t', u, 'ref') !== undefined)).toEqual([true, true, true]);
    for (let i = 0; i < 50; i++) {
      cache.put('t', `x${i}`, 'ref', key());
      expect(cache.size).toBeLessThanOrEqual(3);
    }
    expect(cache.stats.evictions).toBe(51);
  });

  it('zeroes entries that are dropped, replaced, cleared, or dropped tenant-wide', () => {
    cache = new PlaintextCache(60_000);
    cache.put('t', 'dropped', 'ref', key());
    cache.put('t', 'replaced', 'ref', key());
    cache.put('t', 'tenant-wide', 'ref', key());
    cache.put('other', 'cleared', 'ref', key());
    const held = ['dropped', 'replaced', 'tenant-wide'].map((u) => internal(cache!, 't', u));
    const cleared = internal(cache, 'other', 'cleared');
    cache.drop('t', 'dropped');
    cache.put('t', 'replaced', 'ref-2', key());
    expect(held.slice(0, 2)).toEqual([zero, zero]);
    const replacement = internal(cache, 't', 'replaced');
    cache.drop('t');
    expect(held[2]).toEqual(zero);
    expect(replacement).toEqual(zero);
    expect(cleared).toEqual(key()); // another tenant's entry stays
    cache.clear();
    expect(cleared).toEqual(zero);
    expect(cache.size).toBe(0);
  });

  it('counts the lifetime from the unwrap, not from the last use', async () => {
    cache = new PlaintextCache(400);
    cache.put('t', 'u', 'ref', key(), { since: Date.now() - 300 }); // unwrapped 300 ms ago
    const held = internal(cache, 't', 'u');
    expect(cache.get('t', 'u', 'ref')).toEqual(key());
    await sleep(50);
    expect(cache.get('t', 'u', 'ref')).toEqual(key()); // read again: the lifetime does not start over
    await sleep(100);
    expect(cache.get('t', 'u', 'ref')).toBeUndefined();
    expect(held).toEqual(zero);
    // An unwrap that started longer ago than the lifetime is not stored at all.
    cache.put('t', 'late', 'ref', key(), { since: Date.now() - 500 });
    expect(cache.size).toBe(0);
  });

  it('wipes expired entries in order of expiry, without being asked for them, also after LRU reordering', async () => {
    cache = new PlaintextCache(60_000);
    const t0 = Date.now();
    cache.put('t', 'a', 'ref', key());
    await sleep(50);
    cache.put('t', 'b', 'ref', key());
    cache.get('t', 'a', 'ref'); // a becomes the most recently used, but still expires first
    const a = internal(cache, 't', 'a');
    cache.sweep(t0 + 60_000 + 25); // after a's expiry, before b's
    expect(cache.size).toBe(1);
    expect(a).toEqual(zero);
    expect(cache.get('t', 'b', 'ref')).toEqual(key());
    cache.close();

    cache = new PlaintextCache(200);
    cache.put('t', 'c', 'ref', key());
    const c = internal(cache, 't', 'c');
    expect(cache.size).toBe(1);
    const end = Date.now() + 3000;
    while (cache.size > 0 && Date.now() < end) await sleep(50);
    expect(cache.size).toBe(0); // swept by its own timer (every min(lifetime, 1 s))
    expect(c).toEqual(zero);
  });

  it('wipes an entry at its expiry even when one stored after it expires later (its unwrap started later)', () => {
    cache = new PlaintextCache(1000);
    const now = Date.now();
    cache.put('t', 'quick', 'ref', key(), { since: now });
    cache.put('t', 'slow', 'ref', key(), { since: now - 500 }); // a slower unwrap, stored after the quick one
    const slow = internal(cache, 't', 'slow');
    cache.sweep(now + 600);
    expect(slow).toEqual(zero);
    expect(cache.size).toBe(1);
    expect(cache.get('t', 'quick', 'ref')).toEqual(key());
  });

  it('serves nothing while suspended (subscription down), and starts again empty', () => {
    cache = new PlaintextCache(60_000);
    cache.put('t', 'u', 'ref', key());
    const held = internal(cache, 't', 'u');
    cache.suspend();
    expect(held).toEqual(zero);
    expect(cache.serving).toBe(false);
    expect(cache.get('t', 'u', 'ref')).toBeUndefined();
    cache.put('t', 'u', 'ref', key());
    expect(cache.size).toBe(0);
    cache.resume();
    expect(cache.serving).toBe(true);
    expect(cache.get('t', 'u', 'ref')).toBeUndefined();
    cache.put('t', 'u', 'ref', key());
    expect(cache.get('t', 'u', 'ref')).toEqual(key());
  });

  it('does not store an unwrap that an invalidation overtook', () => {
    cache = new PlaintextCache(60_000);
    const before = cache.epoch;
    cache.drop('t', 'u'); // e.g. a Revoke on another replica while this unwrap was in flight
    cache.put('t', 'u', 'ref', key(), { epoch: before });
    expect(cache.size).toBe(0);
    const now = cache.epoch;
    cache.put('t', 'u', 'ref', key(), { epoch: now });
    expect(cache.size).toBe(1);
    for (const invalidate of [() => cache!.clear(), () => cache!.suspend(), () => cache!.resume(), () => cache!.drop('x')]) {
      const e = cache.epoch;
      invalidate();
      expect(cache.epoch).not.toBe(e);
    }
  });
});

describe('UnwrapGate', () => {
  /** An unwrap that finishes when told, counting how many run at once. */
  function provider() {
    let running = 0;
    let most = 0;
    let calls = 0;
    const pending: Array<() => void> = [];
    const unwrap = () => {
      calls++;
      running++;
      most = Math.max(most, running);
      return new Promise<Buffer>((resolve) => pending.push(() => { running--; resolve(key()); }));
    };
    return {
      unwrap,
      finishOne: () => pending.shift()?.(),
      get calls() { return calls; },
      get most() { return most; },
    };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('runs at most `concurrency` unwraps per tenant, the rest in turn; other tenants are not held up', async () => {
    const gate = new UnwrapGate({ concurrency: 2, queue: 10 });
    const p = provider();
    const q = provider();
    const a = Array.from({ length: 6 }, () => gate.limited('a', p.unwrap));
    const b = gate.limited('b', q.unwrap);
    await tick();
    expect([p.calls, q.calls, gate.inFlight, gate.queued]).toEqual([2, 1, 3, 4]);
    q.finishOne();
    await expect(b).resolves.toEqual(key());
    for (let i = 0; i < 6; i++) {
      p.finishOne();
      await tick();
    }
    await Promise.all(a);
    expect(p.most).toBe(2);
    expect([gate.inFlight, gate.queued]).toEqual([0, 0]);
  });

  it('refuses at once, with a clear UNAVAILABLE and a KMIP reason, when the queue is full', async () => {
    const gate = new UnwrapGate({ concurrency: 1, queue: 2 });
    const p = provider();
    const admitted = Array.from({ length: 3 }, () => gate.limited('a', p.unwrap));
    const t0 = Date.now();
    const refused = await gate.limited('a', p.unwrap).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(50);
    expect(refused).toBeInstanceOf(ServiceError);
    expect(refused).toMatchObject({ code: grpc.status.UNAVAILABLE, kmipReason: ResultReason.ServerLimitExceeded, message: expect.stringMatching(/1 keys .* being unwrapped .* 2 more are waiting/) });
    expect(gate.stats.rejected).toBe(1);
    for (let i = 0; i < 3; i++) { p.finishOne(); await tick(); }
    await Promise.all(admitted);
  });

  it('fails a wait for a turn that lasts longer than the queue timeout', async () => {
    const gate = new UnwrapGate({ concurrency: 1, queue: 5, queueTimeoutMs: 100 });
    const p = provider();
    const first = gate.limited('a', p.unwrap);
    const t0 = Date.now();
    const waited = await gate.limited('a', p.unwrap).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(waited).toMatchObject({ code: grpc.status.UNAVAILABLE, message: expect.stringContaining('waited 100 ms') });
    expect(gate.queued).toBe(0);
    p.finishOne();
    await first;
    expect(p.calls).toBe(1); // the one that gave up never reached the provider
  });

  it('shares one unwrap among callers of the same key, each with its own copy, and zeroes the call\'s buffer', async () => {
    const gate = new UnwrapGate({ concurrency: 4 });
    let theirs: Buffer | undefined;
    let finish: () => void = () => undefined;
    let calls = 0;
    const unwrap = () => {
      calls++;
      return new Promise<Buffer>((resolve) => { finish = () => { theirs = key(); resolve(theirs); }; });
    };
    const answers = Array.from({ length: 50 }, () => gate.shared('a', 'a/u/tag', unwrap));
    await tick();
    finish();
    const got = await Promise.all(answers);
    expect(calls).toBe(1);
    expect(gate.stats.coalesced).toBe(49);
    for (const g of got) expect(g).toEqual(key());
    got[0].fill(0);
    expect(got[1]).toEqual(key()); // copies, not one buffer
    expect(theirs).toEqual(zero);
    // Finished: the next caller unwraps again.
    const again = gate.shared('a', 'a/u/tag', unwrap);
    await tick();
    finish();
    await again;
    expect(calls).toBe(2);
  });

  it('gives every caller of a shared unwrap its failure', async () => {
    const gate = new UnwrapGate();
    let fail: (e: Error) => void = () => undefined;
    const unwrap = () => new Promise<Buffer>((_r, reject) => { fail = reject; });
    const answers = Array.from({ length: 3 }, () => gate.shared('a', 'k', unwrap).catch((e: Error) => e.message));
    await tick();
    fail(new Error('provider unavailable'));
    expect(await Promise.all(answers)).toEqual(['provider unavailable', 'provider unavailable', 'provider unavailable']);
  });
});
