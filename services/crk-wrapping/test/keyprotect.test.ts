import { randomBytes, randomUUID } from 'crypto';
import { grpc } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { Emulator, startEmulator } from '@keywarden/keyprotect-emulator';
import { decodeRef, RefKind } from '../src/sealed-ref';
import type { WrapProvider } from '../src/providers/types';
import type { ProviderRegistry } from '../src/providers/registry';
import { ctx, failure, kpProvider, newInstance, registry } from './helpers';

// Key Protect and HPCS providers over real HTTP against the emulator.

const API_KEY = 'kp-test-api-key';

async function kpRest(emu: Emulator, instance: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const t = await fetch(`${emu.url}/identity/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: API_KEY }) });
  const token = ((await t.json()) as { access_token: string }).access_token;
  const r = await fetch(`${emu.url}/api/v2/${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'bluemix-instance': instance, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe.each(['keyprotect', 'hpcs'] as const)('%s provider against the emulator', (kind) => {
  let emu: Emulator;
  let providers: ProviderRegistry;
  let instance: string;
  let p: WrapProvider;
  let crk: string;
  const tenant = { tenantId: 'tenant-1', uid: '' };

  beforeAll(async () => {
    // The 30 s enable/restore cooldown off: these tests disable and enable, delete and restore, right away.
    emu = await startEmulator({ apiKeys: [API_KEY], limits: { actionCooldownSeconds: 0 } });
    ({ providers } = registry());
    instance = newInstance(emu);
    p = providers.get(kpProvider(emu.url, instance, '', kind));
    crk = (await p.createRootKey(ctx('', API_KEY), `crk-${kind}`)).crkId;
  });
  afterAll(async () => {
    providers.close();
    await emu.close();
  });
  afterEach(() => emu.faults.clear());

  const key = () => ({ ...tenant, uid: randomUUID() });

  it('seals and unseals; the standard key is named after the uid and holds only ciphertext', async () => {
    const k = key();
    const kek = randomBytes(32);
    const sealed = await p.seal(ctx(crk, API_KEY), k, kek);
    const ref = decodeRef(sealed.ref);
    expect(ref).toMatchObject({ kind: RefKind.StandardKey, crkId: crk, crkVersion: sealed.crkVersion });
    const std = await kpRest(emu, instance, 'GET', `keys/${(ref as { keyId: string }).keyId}`);
    const res = (std.body.resources as Array<{ name: string; payload: string; extractable: boolean }>)[0];
    expect(res.name).toBe(`kmip-${k.uid}`);
    expect(res.extractable).toBe(true);
    expect(Buffer.from(res.payload, 'base64').includes(kek)).toBe(false);
    const u = await p.unseal(ctx(crk, API_KEY), k, sealed.ref);
    expect(u.plaintext.equals(kek)).toBe(true);
    expect(u.crkVersion).toBe(sealed.crkVersion);
    expect(u.rewrapped).toBeUndefined();
  });

  it('rejects a sealed reference presented for another tenant or uid (AAD) with DATA_LOSS', async () => {
    const k = key();
    const sealed = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    const otherUid = await failure(p.unseal(ctx(crk, API_KEY), { ...k, uid: randomUUID() }, sealed.ref));
    expect(otherUid).toMatchObject({ code: grpc.status.DATA_LOSS, reason: 'AAD_MISMATCH', kmipReason: 0xa });
    const otherTenant = await failure(p.unseal(ctx(crk, API_KEY), { ...k, tenantId: 'tenant-2' }, sealed.ref));
    expect(otherTenant.code).toBe(grpc.status.DATA_LOSS);
    expect(otherTenant.message).toMatch(/AAD mismatch/);
  });

  it('after rotation, unseal returns a rewrapped reference under the new version, and rewrap moves old references', async () => {
    const local = await p.createRootKey(ctx('', API_KEY), 'rotating');
    const k = key();
    const kek = randomBytes(32);
    const s1 = await p.seal(ctx(local.crkId, API_KEY), k, kek);
    const k2 = key();
    const s2 = await p.seal(ctx(local.crkId, API_KEY), k2, kek);
    const v2 = await p.rotateRootKey(ctx(local.crkId, API_KEY));
    expect(v2).not.toBe(s1.crkVersion);
    expect((await p.checkRootKey(ctx(local.crkId, API_KEY))).currentVersion).toBe(v2);

    const u = await p.unseal(ctx(local.crkId, API_KEY), k, s1.ref);
    expect(u.plaintext.equals(kek)).toBe(true);
    expect(u.crkVersion).toBe(s1.crkVersion);
    expect(u.rewrapped?.crkVersion).toBe(v2);
    const newRef = decodeRef(u.rewrapped!.ref) as { keyId: string };
    expect(newRef.keyId).not.toBe((decodeRef(s1.ref) as { keyId: string }).keyId);
    const again = await p.unseal(ctx(local.crkId, API_KEY), k, u.rewrapped!.ref);
    expect(again.plaintext.equals(kek)).toBe(true);
    expect(again.rewrapped).toBeUndefined();
    // The caller then destroys the old standard key.
    await p.destroy(ctx(local.crkId, API_KEY), k, s1.ref);
    await p.destroy(ctx(local.crkId, API_KEY), k, s1.ref); // idempotent

    expect((await failure(p.rewrap(ctx(local.crkId, API_KEY), key(), s2.ref))).reason).toBe('AAD_MISMATCH');
    const moved = await p.rewrap(ctx(local.crkId, API_KEY), k2, s2.ref);
    expect(moved).toMatchObject({ changed: true, sealed: { crkVersion: v2 } });
    expect((await p.unseal(ctx(local.crkId, API_KEY), k2, moved.sealed.ref)).plaintext.equals(kek)).toBe(true);
    const unchanged = await p.rewrap(ctx(local.crkId, API_KEY), k2, moved.sealed.ref);
    expect(unchanged.changed).toBe(false);
    expect(unchanged.sealed.ref.equals(moved.sealed.ref)).toBe(true);
  });

  it('CRK deleted: every unseal of the tenant fails with FAILED_PRECONDITION, and restoring it brings them back', async () => {
    const local = await p.createRootKey(ctx('', API_KEY), 'to-delete');
    const keys = [key(), key(), key()];
    const sealed = await Promise.all(keys.map((k) => p.seal(ctx(local.crkId, API_KEY), k, randomBytes(32))));
    await p.deleteRootKey(ctx(local.crkId, API_KEY), false);
    for (let i = 0; i < keys.length; i++) {
      const f = await failure(p.unseal(ctx(local.crkId, API_KEY), keys[i], sealed[i].ref));
      expect(f).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, reason: 'CRK_DELETED' });
      expect(f.message).toMatch(/root key .* was deleted .* every key of tenant tenant-1 is revoked/);
    }
    expect((await failure(p.seal(ctx(local.crkId, API_KEY), key(), randomBytes(32)))).reason).toBe('CRK_DELETED');
    expect((await p.checkRootKey(ctx(local.crkId, API_KEY))).state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_DELETED);
    expect((await kpRest(emu, instance, 'POST', `keys/${local.crkId}/restore`)).status).toBe(201);
    expect((await p.unseal(ctx(local.crkId, API_KEY), keys[0], sealed[0].ref)).plaintext).toHaveLength(32);
    expect((await p.checkRootKey(ctx(randomUUID(), API_KEY))).state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_NOT_FOUND);
  });

  it('one standard key deleted: only that key fails, with NOT_FOUND', async () => {
    const a = key();
    const b = key();
    const sa = await p.seal(ctx(crk, API_KEY), a, randomBytes(32));
    const sb = await p.seal(ctx(crk, API_KEY), b, randomBytes(32));
    const keyId = (decodeRef(sa.ref) as { keyId: string }).keyId;
    expect((await kpRest(emu, instance, 'DELETE', `keys/${keyId}`)).status).toBe(204);
    const f = await failure(p.unseal(ctx(crk, API_KEY), a, sa.ref));
    expect(f).toMatchObject({ code: grpc.status.NOT_FOUND, reason: 'SEALED_KEY_DELETED', kmipReason: 1 });
    expect(f.message).toContain(a.uid);
    expect((await p.unseal(ctx(crk, API_KEY), b, sb.ref)).plaintext).toHaveLength(32);
  });

  it('CRK disabled: PERMISSION_DENIED until enabled again', async () => {
    const local = await p.createRootKey(ctx('', API_KEY), 'to-disable');
    const k = key();
    const s = await p.seal(ctx(local.crkId, API_KEY), k, randomBytes(32));
    expect((await kpRest(emu, instance, 'POST', `keys/${local.crkId}/actions/disable`)).status).toBe(204);
    expect(await failure(p.unseal(ctx(local.crkId, API_KEY), k, s.ref))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: 'CRK_DISABLED', kmipReason: 0xc });
    expect((await p.checkRootKey(ctx(local.crkId, API_KEY))).state).toBe(wrappingV1.RootKeyState.ROOT_KEY_STATE_SUSPENDED);
    expect((await kpRest(emu, instance, 'POST', `keys/${local.crkId}/actions/enable`)).status).toBe(204);
    expect((await p.unseal(ctx(local.crkId, API_KEY), k, s.ref)).plaintext).toHaveLength(32);
  });

  it('a wrong API key fails with UNAUTHENTICATED and names no secret', async () => {
    const f = await failure(p.seal(ctx(crk, 'wrong-api-key'), key(), randomBytes(32)));
    expect(f).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
    expect(f.message).not.toContain('wrong-api-key');
    expect(f.message).toMatch(/BXNIM0415E/);
  });

  it('a crk_id naming a standard key is rejected as INVALID_ARGUMENT', async () => {
    const k = key();
    const s = await p.seal(ctx(crk, API_KEY), k, randomBytes(32));
    const stdId = (decodeRef(s.ref) as { keyId: string }).keyId;
    expect(await failure(p.seal(ctx(stdId, API_KEY), key(), randomBytes(32)))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: 'PROVIDER_REJECTED' });
  });
});
