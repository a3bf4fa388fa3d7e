import { randomBytes, randomUUID } from 'crypto';
import { grpc } from '@keywarden/common';
import { Emulator, SEARCH_VOLUME, startEmulator } from '@keywarden/keyprotect-emulator';
import type { ProviderRegistry } from '../src/providers/registry';
import { standardKeyName } from '../src/providers/keyprotect/provider';
import type { KeyContext, WrapProvider } from '../src/providers/types';
import { failure, kpProvider, newInstance, registry, TEST_RESILIENCE } from './helpers';
import { capturingLog, eventually, keyIdOf } from './kp-fixtures';

// A standard key create whose outcome is unclear (the answer lost, a 5xx or
// an unreadable answer after the key was made, a timeout) is recovered by a
// lookup that works in an instance of any size: Key Protect's search fails
// over more than 5,000 keys, so the lookup narrows by creation date first.
// The key is found and reused, a second copy is deleted, or the seal fails
// with a log line naming what to look for; never a silent orphan.

const API_KEY = 'ambiguous-api-key';
const CREATE = '^POST /api/v2/keys$';
const DAY = 24 * 3600_000;

describe('ambiguous standard key creates', () => {
  let emu: Emulator;
  let providers: ProviderRegistry;
  const key = (): KeyContext => ({ tenantId: 'tenant-amb', uid: randomUUID() });
  const named = (instance: string, k: KeyContext) => emu.keysNamed(instance, standardKeyName(k.uid));

  beforeAll(async () => {
    emu = await startEmulator({ apiKeys: [API_KEY] });
    ({ providers } = registry({ breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } }));
  });
  afterAll(async () => {
    providers.close();
    await emu.close();
  });
  afterEach(() => emu.faults.clear());

  /** A provider on a fresh instance holding `seeded` standard keys created `age` ms ago, and its root key. */
  async function instanceWith(seeded: number, age: number): Promise<{ instance: string; p: WrapProvider; crk: string; cl: ReturnType<typeof capturingLog> }> {
    const instance = newInstance(emu);
    emu.seedKeys(instance, seeded, { createdAt: new Date(Date.now() - age), name: (i) => `kmip-other-${i}` });
    const p = providers.get(kpProvider(emu.url, instance));
    const cl = capturingLog();
    const crk = (await p.createRootKey(cl.ctx('', API_KEY), 'amb-crk')).crkId;
    return { instance, p, crk, cl };
  }

  it(`reuses the key a lost answer created, in an instance of ${SEARCH_VOLUME + 1_500} keys (the search narrowed by creation date)`, async () => {
    const { instance, p, crk, cl } = await instanceWith(SEARCH_VOLUME + 1_500, DAY);
    const k = key();
    const kek = randomBytes(32);
    emu.faults.set({ corrupt: 'lost', match: CREATE, times: 1 });
    const t = Date.now();
    const sealed = await p.seal(cl.ctx(crk, API_KEY), k, kek);
    const ms = Date.now() - t;
    expect(named(instance, k)).toEqual([keyIdOf(sealed.ref)]); // exactly one key, the one the reference names
    expect((await p.unseal(cl.ctx(crk, API_KEY), k, sealed.ref)).plaintext.equals(kek)).toBe(true);
    expect(emu.keyCount(instance, { extractable: true })).toBe(SEARCH_VOLUME + 1_501);
    expect(ms).toBeLessThan(5_000);
  });

  it(`finds it when more than ${SEARCH_VOLUME} keys were created in the window too (the filtered list paged instead of the search)`, async () => {
    const { instance, p, crk, cl } = await instanceWith(SEARCH_VOLUME + 1_000, 0);
    const k = key();
    emu.faults.set({ corrupt: 'status', errorStatus: 500, match: CREATE, times: 1 });
    const sealed = await p.seal(cl.ctx(crk, API_KEY), k, randomBytes(32));
    expect(named(instance, k)).toEqual([keyIdOf(sealed.ref)]);
  });

  it.each(['json', 'fields', 'types', 'truncate'] as const)('reuses the key when the create answer was unreadable (%s) after the key was made', async (corrupt) => {
    const { instance, p, crk, cl } = await instanceWith(10, DAY);
    const k = key();
    emu.faults.set({ corrupt, match: CREATE, times: 1 });
    const sealed = await p.seal(cl.ctx(crk, API_KEY), k, randomBytes(32));
    expect(named(instance, k)).toEqual([keyIdOf(sealed.ref)]);
  });

  it('creates it again when the lookup shows the first attempt did not land (a 503 before processing)', async () => {
    const { instance, p, crk, cl } = await instanceWith(10, DAY);
    const k = key();
    emu.faults.set({ errorRate: 1, errorStatus: 503, match: CREATE, times: 1 });
    const sealed = await p.seal(cl.ctx(crk, API_KEY), k, randomBytes(32));
    expect(named(instance, k)).toEqual([keyIdOf(sealed.ref)]);
  });

  it('deletes the second copy when a timed-out create lands after the lookup, and logs it', async () => {
    const { instance, p, crk, cl } = await instanceWith(10, DAY);
    const k = key();
    // Held past the per-attempt timeout, then processed: the client gives up, looks, finds nothing, creates again.
    emu.faults.set({ latencyMs: TEST_RESILIENCE.callTimeoutMs + 500, match: CREATE, times: 1 });
    const sealed = await p.seal(cl.ctx(crk, API_KEY), k, randomBytes(32));
    await eventually(() => named(instance, k).length === 2, 3_000); // the late one landed
    await eventually(() => named(instance, k).length === 1, 2 * TEST_RESILIENCE.callTimeoutMs + 3_000);
    expect(named(instance, k)).toEqual([keyIdOf(sealed.ref)]);
    expect(cl.entries.some((e) => /deleted a second copy/.test(String(e.msg)) && e.kept === keyIdOf(sealed.ref))).toBe(true);
  }, 15_000);

  it('fails rather than create a second copy when the lookup fails too, and logs the key to look for', async () => {
    const { instance, p, crk, cl } = await instanceWith(10, DAY);
    const k = key();
    emu.faults.set({ corrupt: 'lost', match: '^(POST /api/v2/keys$|GET /api/v2/keys\\?)', times: 0 });
    const f = await failure(p.seal(cl.ctx(crk, API_KEY), k, randomBytes(32)));
    expect(f).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'PROVIDER_UNAVAILABLE' });
    emu.faults.clear();
    expect(named(instance, k)).toHaveLength(1); // the first create landed: the orphan
    const line = cl.entries.find((e) => /possibly orphaned standard key/.test(String(e.msg)));
    expect(line).toMatchObject({ level: 40, instance, name: standardKeyName(k.uid), uid: k.uid, tenant: 'tenant-amb' });
    expect(String(line?.msg)).toContain(standardKeyName(k.uid));
  });
});
