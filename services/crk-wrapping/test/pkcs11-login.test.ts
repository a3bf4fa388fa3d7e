import { randomBytes, randomUUID } from 'crypto';
import * as pkcs11js from 'pkcs11js';
import { grpc } from '@keywarden/common';
import { isHsmOutage, Pkcs11Module, Token } from '../src/providers/pkcs11/hsm';
import { Pkcs11Provider } from '../src/providers/pkcs11/provider';
import { Breaker } from '../src/resilience/breaker';
import type { KeyContext } from '../src/providers/types';
import { ctx, failure, SOFTHSM, softhsmToken, TEST_RESILIENCE } from './helpers';

// PKCS#11 login state against a real SoftHSM2 token: a PIN is accepted only
// after the token itself accepted it in the current login state, whatever
// happened before (another user logged in, a session lost), and tenants
// sharing a token do not log each other out in the middle of an operation.

// One token per scenario: login state belongs to the process and the token.
const TOKEN = 'kw-login-token';
const TOKEN_SHARED = 'kw-login-shared';
const TOKEN_LOST = 'kw-login-lost';
const PIN = '97531864';
const CRK = 'login-crk';

const key = (tenantId = 'tenant-a'): KeyContext => ({ tenantId, uid: randomUUID() });
/** Generous timeouts: logins are serialized here, and SoftHSM2 derives a key from every PIN it checks. */
const slow = (crkId: string, pin: string) => ctx(crkId, pin, 30_000);

/** A provider with its own module instance (its own session pool and login bookkeeping) over a token. */
function open(label: string, poolSize = 2): { mod: Pkcs11Module; provider: Pkcs11Provider; close: () => void } {
  const mod = new Pkcs11Module(SOFTHSM, poolSize);
  const breaker = new Breaker(`pkcs11 ${label} ${randomUUID()}`, { ...TEST_RESILIENCE.breaker, volumeThreshold: 10_000 }, isHsmOutage);
  const provider = new Pkcs11Provider(mod, label, breaker, 20_000);
  return { mod, provider, close: () => { provider.close(); mod.close(); } };
}

/** A root key in a token, and a KEK sealed under it for each key context. */
async function prepare(label: string, keys: KeyContext[], kek: Buffer): Promise<Buffer[]> {
  const setup = open(label);
  try {
    await setup.provider.createRootKey(slow('', PIN), CRK);
    return await Promise.all(keys.map(async (k) => (await setup.provider.seal(slow(CRK, PIN), k, kek)).ref));
  } finally {
    setup.close();
  }
}

/** CK_STATE values of a logged-in user (PKCS#11 2.40 §5.6; pkcs11js exports no CKS_ names). */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** Whether the token is logged in for this process, as a session of the test's own sees it. */
function loggedIn(lib: pkcs11js.PKCS11, session: Buffer): boolean {
  const state = lib.C_GetSessionInfo(session).state;
  return state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
}

describe('PKCS#11 PIN verification (SoftHSM2)', () => {
  let main: ReturnType<typeof open>;
  const kA = key('tenant-a');
  const kB = key('tenant-b');
  const kek = randomBytes(32);
  let sealedA: Buffer;
  let sealedB: Buffer;

  beforeAll(async () => {
    // SoftHSM2 finds tokens when the library is initialized: create them all first.
    for (const label of [TOKEN, TOKEN_SHARED, TOKEN_LOST]) softhsmToken(label, PIN);
    main = open(TOKEN);
    [sealedA, sealedB] = await prepare(TOKEN, [kA, kB], kek);
  });
  afterAll(() => main.close());

  it('refuses a wrong PIN after a right one, and every other wrong PIN after that', async () => {
    expect((await main.provider.unseal(slow(CRK, PIN), kA, sealedA)).plaintext.equals(kek)).toBe(true);
    for (const wrong of ['00000000', '00000001', `${PIN}0`]) {
      const f = await failure(main.provider.unseal(slow(CRK, wrong), kA, sealedA));
      expect(f).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
      expect(f.message).not.toContain(wrong);
    }
    expect((await main.provider.unseal(slow(CRK, PIN), kA, sealedA)).plaintext.equals(kek)).toBe(true);
  });

  it('does not take CKR_USER_ALREADY_LOGGED_IN (another user of the library logged in) as a right PIN', async () => {
    const [sealed] = await prepare(TOKEN_SHARED, [kA], kek);
    // `first` logs in with the right PIN; a second module instance in this
    // process (a fresh Token, nothing verified) finds the token logged in already.
    const first = open(TOKEN_SHARED);
    const second = open(TOKEN_SHARED);
    try {
      expect((await first.provider.unseal(slow(CRK, PIN), kA, sealed)).plaintext).toHaveLength(32);
      const f = await failure(second.provider.unseal(slow(CRK, '13572468'), kA, sealed));
      expect(f).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
      expect((await second.provider.unseal(slow(CRK, PIN), kA, sealed)).plaintext.equals(kek)).toBe(true);
    } finally {
      second.close();
      first.close();
    }
  });

  it('verifies the PIN again after a lost session: a wrong one is refused, the right one works', async () => {
    const [sealed] = await prepare(TOKEN_LOST, [kA], kek);
    const own = open(TOKEN_LOST, 2);
    try {
      // Two sessions in the pool, both under the right PIN's login.
      await Promise.all([own.provider.unseal(slow(CRK, PIN), kA, sealed), own.provider.unseal(slow(CRK, PIN), kA, sealed)]);
      const token: Token = own.mod.token(TOKEN_LOST);
      const free = (token as unknown as { free: Buffer[] }).free;
      expect(free).toHaveLength(2);
      // Another component closes the session used next; the other one stays open, so the token stays logged in.
      own.mod.lib.C_CloseSession(free[free.length - 1]);
      expect(await failure(own.provider.unseal(slow(CRK, PIN), kA, sealed))).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'PROVIDER_UNAVAILABLE' });

      const f = await failure(own.provider.unseal(slow(CRK, '24682468'), kA, sealed));
      expect(f).toMatchObject({ code: grpc.status.UNAUTHENTICATED, reason: 'AUTH_FAILED' });
      expect((await own.provider.unseal(slow(CRK, PIN), kA, sealed)).plaintext.equals(kek)).toBe(true);
    } finally {
      own.close();
    }
  });

  it('two tenants on one token, one with a wrong PIN, interleaved: the right one never fails mid-operation', async () => {
    const ops: Array<{ tenant: 'a' | 'b'; p: Promise<{ plaintext: Buffer }> }> = [];
    for (let i = 0; i < 48; i++) {
      // Each wrong PIN is a new one, so every one of them is checked by the token (a log-out and a failed log-in).
      if (i % 4 === 3) ops.push({ tenant: 'b', p: main.provider.unseal(slow(CRK, `wrong-${i}`), kB, sealedB) });
      else ops.push({ tenant: 'a', p: main.provider.unseal(slow(CRK, PIN), kA, sealedA) });
    }
    const settled = await Promise.allSettled(ops.map((o) => o.p));
    const a = settled.filter((_, i) => ops[i].tenant === 'a');
    const b = settled.filter((_, i) => ops[i].tenant === 'b');
    const reasons = (xs: typeof settled) => xs.map((r) => (r.status === 'rejected' ? (r.reason as { reason?: string }).reason ?? String(r.reason) : 'ok'));
    expect(reasons(a)).toEqual(a.map(() => 'ok'));
    expect(a.every((r) => r.status === 'fulfilled' && r.value.plaintext.equals(kek))).toBe(true);
    expect(reasons(b)).toEqual(b.map(() => 'AUTH_FAILED'));
  }, 60_000);

  it('a PIN the token just rejected is refused without logging the token out again', async () => {
    const lib = main.mod.lib;
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN)!;
    const watch = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    try {
      await main.provider.unseal(slow(CRK, PIN), kA, sealedA);
      expect(loggedIn(lib, watch)).toBe(true);
      const wrong = `rejected-${randomUUID().slice(0, 8)}`;
      expect((await failure(main.provider.unseal(slow(CRK, wrong), kB, sealedB))).reason).toBe('AUTH_FAILED');
      expect(loggedIn(lib, watch)).toBe(false); // checking it took a log-out
      await main.provider.unseal(slow(CRK, PIN), kA, sealedA);
      expect(loggedIn(lib, watch)).toBe(true);
      expect((await failure(main.provider.unseal(slow(CRK, wrong), kB, sealedB))).reason).toBe('AUTH_FAILED');
      expect(loggedIn(lib, watch)).toBe(true); // the same wrong PIN again: refused from memory
    } finally {
      lib.C_CloseSession(watch);
    }
  });
});
