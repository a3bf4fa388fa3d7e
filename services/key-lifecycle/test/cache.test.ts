// The optional plaintext cache: lifetime, wiping, and answers that outlive their entry.
import { PlaintextCache } from '@keywarden/key-lifecycle';

const key = () => Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');

describe('PlaintextCache', () => {
  let cache: PlaintextCache | undefined;
  afterEach(() => cache?.close());

  it('is off with a lifetime of 0', () => {
    cache = new PlaintextCache(0);
    cache.put('t', 'u', 'ref', key());
    expect(cache.get('t', 'u', 'ref')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('answers within the lifetime, for the same sealed reference only', () => {
    cache = new PlaintextCache(60_000);
    cache.put('t', 'u', 'ref-1', key());
    expect(cache.get('t', 'u', 'ref-1')).toEqual(key());
    expect(cache.get('t', 'u', 'ref-2')).toBeUndefined(); // rewrapped since: dropped
    expect(cache.size).toBe(0);
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

  it('wipes expired entries in order of expiry, without being asked for them', async () => {
    cache = new PlaintextCache(60_000);
    const t0 = Date.now();
    cache.put('t', 'a', 'ref', key());
    await new Promise((r) => setTimeout(r, 50));
    cache.put('t', 'b', 'ref', key());
    cache.sweep(t0 + 60_000 + 25); // after a's expiry, before b's
    expect(cache.size).toBe(1);
    expect(cache.get('t', 'b', 'ref')).toEqual(key());
    cache.close();

    cache = new PlaintextCache(200);
    cache.put('t', 'c', 'ref', key());
    expect(cache.size).toBe(1);
    const end = Date.now() + 3000;
    while (cache.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(cache.size).toBe(0); // swept by its own timer (every min(lifetime, 1 s))
  });
});
