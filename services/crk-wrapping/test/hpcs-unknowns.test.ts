import { randomBytes, randomUUID } from 'crypto';
import { grpc } from '@keywarden/common';
import { Dialect, Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import { LOOKUP_MAX_SCAN, standardKeyName } from '../src/providers/keyprotect/provider';
import type { KeyContext } from '../src/providers/types';
import { ctx, failure, kpProvider, newInstance, registry, TEST_RESILIENCE } from './helpers';
import { capturingLog, keyIdOf } from './kp-fixtures';

// Hyper Protect Crypto Services documents the key-management API of Key
// Protect, but not AAD on wrap/unwrap nor the `search` and `filter` of GET
// keys. Whatever an HPCS instance does with them (uses, ignores or refuses
// them), crk-wrapping stays safe: no key is served to another object, no key
// is sealed without its binding, and an unclear create never leaves a second
// copy or a silent orphan.

const API_KEY = 'hpcs-api-key';
const CREATE = '^POST /api/v2/keys$';
const key = (): KeyContext => ({ tenantId: 'tenant-hpcs', uid: randomUUID() });

async function withHpcs<T>(dialect: Partial<Dialect>, fn: (emu: Emulator, reg: ReturnType<typeof registry>) => Promise<T>): Promise<T> {
  const emu = await startEmulator({ apiKeys: [API_KEY], dialect });
  const reg = registry({ breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } });
  try {
    return await fn(emu, reg);
  } finally {
    reg.providers.close();
    await emu.close();
  }
}

describe('HPCS: what its documentation leaves open', () => {
  describe.each([
    { search: 'ignored', filter: 'ignored' },
    { search: 'refused', filter: 'ignored' },
    { search: 'ignored', filter: 'refused' },
    { search: 'refused', filter: 'refused' },
  ] as const)('GET keys with search $search and filter $filter', (dialect) => {
    it('recovers a lost create answer in a small instance: one key, reused', () => withHpcs(dialect, async (emu, reg) => {
      const instance = newInstance(emu);
      emu.seedKeys(instance, 300, { name: (i) => `kmip-other-${i}` });
      const p = reg.providers.get(kpProvider(emu.url, instance, '', 'hpcs'));
      const crk = (await p.createRootKey(ctx('', API_KEY), 'hpcs-crk')).crkId;
      const k = key();
      emu.faults.set({ corrupt: 'lost', match: CREATE, times: 1 });
      const sealed = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
      expect(emu.keysNamed(instance, standardKeyName(k.uid))).toEqual([keyIdOf(sealed.ref)]);
    }));

    it(`in an instance larger than a lookup reads (${LOOKUP_MAX_SCAN}): fails without a second copy, and names the key to look for`, () => withHpcs(dialect, async (emu, reg) => {
      const instance = newInstance(emu);
      emu.seedKeys(instance, LOOKUP_MAX_SCAN + 500, { name: (i) => `kmip-other-${i}` });
      const p = reg.providers.get(kpProvider(emu.url, instance, '', 'hpcs'));
      const cl = capturingLog();
      const crk = (await p.createRootKey(cl.ctx('', API_KEY), 'hpcs-crk')).crkId;
      const k = key();
      emu.faults.set({ corrupt: 'lost', match: CREATE, times: 1 });
      const f = await failure(p.seal(cl.ctx(crk, API_KEY, 30_000), k, randomBytes(32)));
      expect(f).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'PROVIDER_UNAVAILABLE' });
      expect(emu.keysNamed(instance, standardKeyName(k.uid))).toHaveLength(1); // the one the lost attempt made, not two
      const line = cl.entries.find((e) => /possibly orphaned standard key/.test(String(e.msg)));
      expect(line).toMatchObject({ instance, name: standardKeyName(k.uid) });
      expect(String(line?.why)).toMatch(new RegExp(`more than ${LOOKUP_MAX_SCAN} standard keys`));
    }), 60_000);
  });

  it('AAD ignored by the service: a reference presented for another uid or tenant is still refused (DATA_LOSS)', () => withHpcs({ aad: 'ignored' }, async (emu, reg) => {
    const instance = newInstance(emu);
    const p = reg.providers.get(kpProvider(emu.url, instance, '', 'hpcs'));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'hpcs-aad')).crkId;
    const owner = key();
    const kek = randomBytes(32);
    const sealed = await p.seal(ctx(crk, API_KEY), owner, kek);
    expect((await p.unseal(ctx(crk, API_KEY), owner, sealed.ref)).plaintext.equals(kek)).toBe(true);
    for (const other of [{ ...owner, uid: randomUUID() }, { ...owner, tenantId: 'tenant-other' }]) {
      expect(await failure(p.unseal(ctx(crk, API_KEY), other, sealed.ref))).toMatchObject({ code: grpc.status.DATA_LOSS, reason: 'AAD_MISMATCH' });
      expect((await failure(p.rewrap(ctx(crk, API_KEY), other, sealed.ref))).reason).toBe('AAD_MISMATCH');
    }
  }));

  it('AAD refused by the service: nothing is sealed without it (PROVIDER_REJECTED, nothing stored)', () => withHpcs({ aad: 'refused' }, async (emu, reg) => {
    const instance = newInstance(emu);
    const p = reg.providers.get(kpProvider(emu.url, instance, '', 'hpcs'));
    const crk = (await p.createRootKey(ctx('', API_KEY), 'hpcs-noaad')).crkId;
    const f = await failure(p.seal(ctx(crk, API_KEY), key(), randomBytes(32)));
    expect(f).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: 'PROVIDER_REJECTED' });
    expect(f.message).toMatch(/Hyper Protect Crypto Services .* rejected the request to wrap the key: HTTP 400 BAD_BODY_ERR/);
    expect(emu.keyCount(instance, { extractable: true })).toBe(0);
  }));
});
