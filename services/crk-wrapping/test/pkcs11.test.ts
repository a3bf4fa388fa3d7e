import { randomBytes, randomUUID } from 'crypto';
import * as pkcs11js from 'pkcs11js';
import { grpc } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import type { ProviderRegistry } from '../src/providers/registry';
import type { KeyContext, WrapProvider } from '../src/providers/types';
import { decodeRef, encodeRef, RefKind } from '../src/sealed-ref';
import { ctx, failure, registry, SOFTHSM, softhsmToken } from './helpers';

// PKCS#11 provider against a real SoftHSM2 token through pkcs11js.

const TOKEN = 'kw-tenant-token';
const PIN = '24681357';

describe('pkcs11 provider (SoftHSM2)', () => {
  let providers: ProviderRegistry;
  let p: WrapProvider;
  const provider = (): wrappingV1.Provider => ({
    kind: wrappingV1.ProviderKind.PROVIDER_KIND_PKCS11, endpoint: SOFTHSM, iamEndpoint: '', instanceId: TOKEN, crkId: 'crk', credentialRef: 'env:UNUSED',
  });
  const key = (): KeyContext => ({ tenantId: 'tenant-hsm', uid: randomUUID() });

  beforeAll(async () => {
    softhsmToken(TOKEN, PIN);
    ({ providers } = registry());
    p = providers.get(provider());
    expect(await p.createRootKey(ctx('', PIN), 'crk')).toEqual({ crkId: 'crk', crkVersion: '1' });
  });
  afterAll(() => providers.close());

  it('seals and unseals; the reference is the wrapped blob and holds no plaintext', async () => {
    const k = key();
    const kek = randomBytes(32);
    const s = await p.seal(ctx('crk', PIN), k, kek);
    const ref = decodeRef(s.ref);
    expect(ref).toMatchObject({ kind: RefKind.WrappedBlob, crkId: 'crk', crkVersion: '1' });
    expect(s.ref.includes(kek)).toBe(false);
    const u = await p.unseal(ctx('crk', PIN), k, s.ref);
    expect(u.plaintext.equals(kek)).toBe(true);
    expect(u.rewrapped).toBeUndefined();
    // Other lengths too (Triple DES, AES-128, HMAC).
    for (const n of [16, 24, 64]) {
      const m = randomBytes(n);
      expect((await p.unseal(ctx('crk', PIN), k, (await p.seal(ctx('crk', PIN), k, m)).ref)).plaintext.equals(m)).toBe(true);
    }
    await p.destroy(ctx('crk', PIN), k, s.ref); // nothing stored per key: a no-op
  });

  it('the root key is non-extractable and sensitive', () => {
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM);
    // Already initialized by the provider in this process.
    try { lib.C_Initialize(); } catch { /* CKR_CRYPTOKI_ALREADY_INITIALIZED */ }
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN)!;
    const s = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    try { lib.C_Login(s, pkcs11js.CKU_USER, PIN); } catch { /* logged in by the provider */ }
    lib.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: 'crk' }]);
    const [h] = lib.C_FindObjects(s, 1);
    lib.C_FindObjectsFinal(s);
    const [ex, sens] = lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_SENSITIVE }]);
    expect((ex.value as Buffer)[0]).toBe(0);
    expect((sens.value as Buffer)[0]).toBe(1);
    expect(() => lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    lib.C_CloseSession(s);
  });

  it('rejects a blob presented for another tenant or uid, and a tampered blob, with DATA_LOSS', async () => {
    const k = key();
    const s = await p.seal(ctx('crk', PIN), k, randomBytes(32));
    expect(await failure(p.unseal(ctx('crk', PIN), { ...k, uid: randomUUID() }, s.ref))).toMatchObject({ code: grpc.status.DATA_LOSS, reason: 'AAD_MISMATCH' });
    expect((await failure(p.unseal(ctx('crk', PIN), { ...k, tenantId: 'other' }, s.ref))).reason).toBe('AAD_MISMATCH');
    const ref = decodeRef(s.ref) as Extract<ReturnType<typeof decodeRef>, { kind: 2 }>;
    const blob = Buffer.from(ref.blob);
    blob[10] ^= 0x01;
    expect((await failure(p.unseal(ctx('crk', PIN), k, encodeRef({ ...ref, blob })))).code).toBe(grpc.status.DATA_LOSS);
    expect((await failure(p.unseal(ctx('crk', PIN), k, Buffer.from('junk')))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('after rotation, unseal returns a blob under the new version; rewrap moves old blobs', async () => {
    await p.createRootKey(ctx('', PIN), 'rot');
    const k = key();
    const kek = randomBytes(32);
    const s1 = await p.seal(ctx('rot', PIN), k, kek);
    expect(await p.rotateRootKey(ctx('rot', PIN))).toBe('2');
    expect(await p.checkRootKey(ctx('rot', PIN))).toMatchObject({ state: wrappingV1.RootKeyState.ROOT_KEY_STATE_ACTIVE, currentVersion: '2' });
    const u = await p.unseal(ctx('rot', PIN), k, s1.ref);
    expect(u.plaintext.equals(kek)).toBe(true);
    expect(u.crkVersion).toBe('1');
    expect(u.rewrapped?.crkVersion).toBe('2');
    expect((await p.unseal(ctx('rot', PIN), k, u.rewrapped!.ref)).rewrapped).toBeUndefined();
    const r = await p.rewrap(ctx('rot', PIN), k, s1.ref);
    expect(r).toMatchObject({ changed: true, sealed: { crkVersion: '2' } });
    expect((await p.rewrap(ctx('rot', PIN), k, r.sealed.ref)).changed).toBe(false);
    expect((await p.seal(ctx('rot', PIN), k, kek)).crkVersion).toBe('2');
  });

  it('root key deleted: every unseal fails with FAILED_PRECONDITION', async () => {
    await p.createRootKey(ctx('', PIN), 'doomed');
    const keys = [key(), key()];
    const sealed = await Promise.all(keys.map((k) => p.seal(ctx('doomed', PIN), k, randomBytes(32))));
    await p.deleteRootKey(ctx('doomed', PIN), false);
    for (let i = 0; i < keys.length; i++) {
      const f = await failure(p.unseal(ctx('doomed', PIN), keys[i], sealed[i].ref));
      expect(f).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, reason: 'CRK_DELETED' });
      expect(f.message).toMatch(/every key of tenant tenant-hsm is revoked/);
    }
    expect((await p.checkRootKey(ctx('doomed', PIN))).state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_NOT_FOUND);
  });

  it('root key with wrap/unwrap switched off: PERMISSION_DENIED', async () => {
    await p.createRootKey(ctx('', PIN), 'off');
    const k = key();
    const s = await p.seal(ctx('off', PIN), k, randomBytes(32));
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM);
    try { lib.C_Initialize(); } catch { /* initialized */ }
    const slot = lib.C_GetSlotList(true).find((x) => lib.C_GetTokenInfo(x).label.trim() === TOKEN)!;
    const sess = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try { lib.C_Login(sess, pkcs11js.CKU_USER, PIN); } catch { /* logged in */ }
    lib.C_FindObjectsInit(sess, [{ type: pkcs11js.CKA_LABEL, value: 'off' }]);
    const [h] = lib.C_FindObjects(sess, 1);
    lib.C_FindObjectsFinal(sess);
    lib.C_SetAttributeValue(sess, h, [{ type: pkcs11js.CKA_UNWRAP, value: false }, { type: pkcs11js.CKA_WRAP, value: false }]);
    lib.C_CloseSession(sess);
    expect(await failure(p.unseal(ctx('off', PIN), k, s.ref))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: 'CRK_DISABLED' });
    expect((await p.checkRootKey(ctx('off', PIN))).state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_SUSPENDED);
  });

  it('a wrong PIN fails with UNAUTHENTICATED; the right one works again afterwards', async () => {
    const k = key();
    const s = await p.seal(ctx('crk', PIN), k, randomBytes(32));
    const f = await failure(p.unseal(ctx('crk', '00000000'), k, s.ref));
    expect(f).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
    expect(f.message).not.toContain('00000000');
    expect((await p.unseal(ctx('crk', PIN), k, s.ref)).plaintext).toHaveLength(32);
  });

  it('serves concurrent calls through its session pool', async () => {
    const k = key();
    const kek = randomBytes(32);
    const s = await p.seal(ctx('crk', PIN), k, kek);
    const out = await Promise.all(Array.from({ length: 40 }, () => p.unseal(ctx('crk', PIN), k, s.ref)));
    expect(out.every((u) => u.plaintext.equals(kek))).toBe(true);
  });

  it('refuses modules outside the allow-list and a token that does not exist', async () => {
    expect(() => providers.get({ ...provider(), endpoint: '/tmp/evil.so' })).toThrow(/not allowed/);
    const missing = providers.get({ ...provider(), instanceId: `no-such-${randomUUID()}` });
    expect(await failure(missing.seal(ctx('crk', PIN), key(), randomBytes(32)))).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'PROVIDER_UNAVAILABLE' });
  });
});
