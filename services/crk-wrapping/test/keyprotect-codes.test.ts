import { randomBytes, randomUUID } from 'crypto';
import { grpc } from '@keywarden/common';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import { encodeRef, RefKind, decodeRef } from '../src/sealed-ref';
import type { ProviderRegistry } from '../src/providers/registry';
import { standardKeyDescription, standardKeyName } from '../src/providers/keyprotect/provider';
import type { KeyContext, WrapProvider } from '../src/providers/types';
import { ctx, failure, kpProvider, newInstance, registry, TEST_RESILIENCE } from './helpers';
import { keyIdOf, kpRest } from './kp-fixtures';

// crk-wrapping reads Key Protect's answers as the service gives them
// (docs/keyprotect-api.md): the AAD mismatch as 400 INVALID_FIELD_ERR on the
// ciphertext (and as 422), the keyCreateImportAccess policy as its own
// reason, registration codes not as key state, Retry-After wherever it waits.

const API_KEY = 'codes-api-key';
const KEY_JSON = 'application/vnd.ibm.kms.key+json';

describe.each(['keyprotect', 'hpcs'] as const)('%s: the codes Key Protect answers', (kind) => {
  let emu: Emulator;
  let providers: ProviderRegistry;
  let instance: string;
  let p: WrapProvider;
  let crk: string;
  const key = (): KeyContext => ({ tenantId: 'tenant-codes', uid: randomUUID() });

  beforeAll(async () => {
    emu = await startEmulator({ apiKeys: [API_KEY] });
    ({ providers } = registry({ breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } }));
    instance = newInstance(emu);
    p = providers.get(kpProvider(emu.url, instance, '', kind));
    crk = (await p.createRootKey(ctx('', API_KEY), `codes-${kind}`)).crkId;
  });
  afterAll(async () => {
    providers.close();
    await emu.close();
  });
  afterEach(() => emu.faults.clear());

  /**
   * A standard key made for `victim` (right name and description) that holds
   * the ciphertext sealed for `owner`: a payload replayed under another uid
   * or tenant. Only the service's AAD check stands between it and the key.
   */
  async function replayed(owner: KeyContext, victim: KeyContext, at = { emu, instance, p, crk }): Promise<Buffer> {
    const sealed = await at.p.seal(ctx(at.crk, API_KEY), owner, randomBytes(32));
    const got = await kpRest(at.emu, API_KEY, at.instance, 'GET', `keys/${keyIdOf(sealed.ref)}`);
    const payload = (got.body.resources as Array<{ payload: string }>)[0].payload;
    const made = await kpRest(at.emu, API_KEY, at.instance, 'POST', 'keys', {
      metadata: { collectionType: KEY_JSON, collectionTotal: 1 },
      resources: [{ type: KEY_JSON, name: standardKeyName(victim.uid), description: standardKeyDescription(victim, at.crk), extractable: true, payload }],
    });
    expect(made.status).toBe(201);
    const ref = decodeRef(sealed.ref) as { crkId: string; crkVersion: string };
    return encodeRef({ kind: RefKind.StandardKey, crkId: ref.crkId, crkVersion: ref.crkVersion, keyId: String((made.body.resources as Array<{ id: string }>)[0].id) });
  }

  it('reads 400 INVALID_FIELD_ERR on the ciphertext of an unwrap as an AAD mismatch (DATA_LOSS), for another uid and another tenant', async () => {
    const owner = key();
    for (const victim of [{ ...owner, uid: randomUUID() }, { ...owner, tenantId: 'another-tenant' }]) {
      const ref = await replayed(owner, victim);
      const f = await failure(p.unseal(ctx(crk, API_KEY), victim, ref));
      expect(f).toMatchObject({ code: grpc.status.DATA_LOSS, reason: 'AAD_MISMATCH', kmipReason: 0xa });
      expect(f.message).toMatch(/HTTP 400 INVALID_FIELD_ERR.*AAD mismatch/);
      expect((await failure(p.rewrap(ctx(crk, API_KEY), victim, ref))).reason).toBe('AAD_MISMATCH');
    }
  });

  it('still reads 422 UNPROCESSABLE_CIPHERTEXT_ERR as an AAD mismatch', async () => {
    // An emulator answering a ciphertext it cannot open with 422, as IBM's Go client's tests expect.
    const other = await startEmulator({ apiKeys: [API_KEY], dialect: { aadMismatch: 'unprocessable' } });
    const r = registry();
    try {
      const inst = newInstance(other);
      const q = r.providers.get(kpProvider(other.url, inst, '', kind));
      const root = (await q.createRootKey(ctx('', API_KEY), 'codes-422')).crkId;
      const owner = key();
      const victim = { ...owner, uid: randomUUID() };
      const ref = await replayed(owner, victim, { emu: other, instance: inst, p: q, crk: root });
      const f = await failure(q.unseal(ctx(root, API_KEY), victim, ref));
      expect(f).toMatchObject({ code: grpc.status.DATA_LOSS, reason: 'AAD_MISMATCH' });
      expect(f.message).toMatch(/422 UNPROCESSABLE_CIPHERTEXT_ERR/);
    } finally {
      r.providers.close();
      await other.close();
    }
  });

  it('an INVALID_FIELD_ERR on another field of an unwrap is not an AAD mismatch', async () => {
    const k = key();
    const sealed = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    emu.faults.set({ errorRate: 1, errorReason: 'INVALID_FIELD_ERR', match: 'actions/unwrap' });
    // The injected reason has no target and does not name the ciphertext.
    expect((await failure(p.unseal(ctx(crk, API_KEY), k, sealed.ref))).reason).toBe('PROVIDER_REJECTED');
  });

  it('refuses a standard key made for another object before unwrapping, whatever the service does with AAD', async () => {
    const owner = key();
    const sealed = await p.seal(ctx(crk, API_KEY), owner, randomBytes(32));
    const before = emu.stats().requests;
    for (const other of [{ ...owner, uid: randomUUID() }, { ...owner, tenantId: 'tenant-x' }]) {
      const f = await failure(p.unseal(ctx(crk, API_KEY), other, sealed.ref));
      expect(f).toMatchObject({ code: grpc.status.DATA_LOSS, reason: 'AAD_MISMATCH' });
      expect(f.message).toMatch(/was not made for KMIP object/);
    }
    expect(emu.stats().requests - before).toBe(2); // one GET each, no unwrap
  });

  it('reads KEY_CREATE_IMPORT_ACCESS_ERR as INSTANCE_POLICY (FAILED_PRECONDITION) naming the policy; nothing is stored', async () => {
    const inst = newInstance(emu);
    const q = providers.get(kpProvider(emu.url, inst, '', kind));
    const root = (await q.createRootKey(ctx('', API_KEY), 'codes-policy')).crkId;
    const put = await kpRest(emu, API_KEY, inst, 'PUT', 'instance/policies?policy=keyCreateImportAccess', {
      metadata: { collectionType: 'application/vnd.ibm.kms.policy+json', collectionTotal: 1 },
      resources: [{ policy_type: 'keyCreateImportAccess', policy_data: { enabled: true, attributes: { import_standard_key: false } } }],
    }, 'application/vnd.ibm.kms.policy+json');
    expect(put.status).toBe(204);
    const f = await failure(q.seal(ctx(root, API_KEY), key(), randomBytes(32)));
    expect(f).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, reason: 'INSTANCE_POLICY' });
    expect(f.message).toMatch(/keyCreateImportAccess policy of .* does not allow importing standard keys/);
    expect(f.message).toContain(inst);
    expect(emu.keyCount(inst, { extractable: true })).toBe(0);
  });

  it.each([
    ['KEY_INVALID_STATE_ERR', 'actions/wrap', 'seal'],
    ['KEY_VERSION_INVALID', 'actions/unwrap', 'unseal'],
    ['KEY_ROOT_REQ_REG_ERR', 'actions/wrap', 'seal'],
  ] as const)('reads %s (registrations) as PROVIDER_REJECTED, not as key state or AAD', async (code, match, op) => {
    const k = key();
    const sealed = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    emu.faults.set({ errorRate: 1, errorReason: code, match });
    const f = await failure(op === 'seal' ? p.seal(ctx(crk, API_KEY), key(), randomBytes(32)) : p.unseal(ctx(crk, API_KEY), k, sealed.ref));
    expect(f).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: 'PROVIDER_REJECTED' });
    expect(f.message).toMatch(new RegExp(`${code}, an error of registrations`));
  });

  it('refuses a root key name Key Protect would refuse (2 to 90 characters) before sending anything', async () => {
    const before = emu.stats().requests;
    for (const name of ['r', 'n'.repeat(91)]) {
      expect(await failure(p.createRootKey(ctx('', API_KEY), name))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: 'BAD_REQUEST' });
    }
    expect(emu.stats().requests).toBe(before);
  });

  it('waits the Retry-After of a 429 on the standard key create, and gives up at once when it asks for more than the cap', async () => {
    const patient = registry({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 2_000 }, breaker: { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 } });
    try {
      const q = patient.providers.get(kpProvider(emu.url, instance, '', kind));
      await q.checkRootKey(ctx(crk, API_KEY)); // the token first
      emu.faults.set({ errorRate: 1, errorStatus: 429, retryAfterSeconds: 1, match: '^POST /api/v2/keys$', times: 2 });
      const k = key();
      let t = Date.now();
      const s = await q.seal(ctx(crk, API_KEY), k, randomBytes(32));
      expect(Date.now() - t).toBeGreaterThanOrEqual(1_950); // two waits of at least 1 s
      expect(emu.keysNamed(instance, standardKeyName(k.uid))).toEqual([keyIdOf(s.ref)]);

      emu.faults.set({ errorRate: 1, errorStatus: 429, retryAfterSeconds: 5, match: '^POST /api/v2/keys$', times: 0 });
      const posts = emu.stats().requests;
      t = Date.now();
      expect(await failure(q.seal(ctx(crk, API_KEY), key(), randomBytes(32)))).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });
      expect(Date.now() - t).toBeLessThan(1_000);
      expect(emu.stats().requests - posts).toBe(2); // the wrap, one create
    } finally {
      patient.providers.close();
    }
  });
});
