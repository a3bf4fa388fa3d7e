import { createHash, createHmac, randomBytes, timingSafeEqual } from 'crypto';
import * as pkcs11js from 'pkcs11js';
import { badRequest, WrappingError } from '../../errors';

// PKCS#11 plumbing: one loaded module per path, a small session pool per token
// (an operation holds its session alone), login with the tenant's user PIN.
// Wrap and unwrap use the async entry points, which run on libuv's thread pool,
// so a slow (network) HSM does not stall the event loop.

/** The module is not reachable or misbehaves: counts as an outage for the breaker. */
export class HsmUnavailable extends Error {
  override name = 'HsmUnavailable';
}

const OUTAGE_CODES = new Set([
  pkcs11js.CKR_DEVICE_ERROR, pkcs11js.CKR_DEVICE_REMOVED, pkcs11js.CKR_DEVICE_MEMORY, pkcs11js.CKR_HOST_MEMORY,
  pkcs11js.CKR_TOKEN_NOT_PRESENT, pkcs11js.CKR_TOKEN_NOT_RECOGNIZED, pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED, pkcs11js.CKR_FUNCTION_FAILED, pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
]);
const SESSION_LOST = new Set([pkcs11js.CKR_SESSION_HANDLE_INVALID, pkcs11js.CKR_SESSION_CLOSED, pkcs11js.CKR_DEVICE_REMOVED, pkcs11js.CKR_TOKEN_NOT_PRESENT]);
const PIN_CODES = new Set([
  pkcs11js.CKR_PIN_INCORRECT, pkcs11js.CKR_PIN_INVALID, pkcs11js.CKR_PIN_LEN_RANGE, pkcs11js.CKR_PIN_EXPIRED,
  pkcs11js.CKR_PIN_LOCKED, pkcs11js.CKR_USER_PIN_NOT_INITIALIZED, pkcs11js.CKR_USER_NOT_LOGGED_IN,
]);

export function pkcs11Code(e: unknown): number | undefined {
  const err = e as { name?: unknown; code?: unknown };
  return err?.name === 'Pkcs11Error' && typeof err.code === 'number' ? err.code : undefined;
}

/** CKR_* name of a PKCS#11 return value, for messages. */
export function ckrName(code: number): string {
  for (const [k, v] of Object.entries(pkcs11js)) if (k.startsWith('CKR_') && v === code) return k;
  return `CKR 0x${code.toString(16)}`;
}

export function isHsmOutage(e: unknown): boolean {
  if (e instanceof HsmUnavailable) return true;
  const code = pkcs11Code(e);
  return code !== undefined && OUTAGE_CODES.has(code);
}

export function isPinError(e: unknown): boolean {
  const code = pkcs11Code(e);
  return code !== undefined && PIN_CODES.has(code);
}

/** A loaded and initialized PKCS#11 module. */
export class Pkcs11Module {
  readonly lib = new pkcs11js.PKCS11();
  private readonly ownsInit: boolean;
  private readonly tokens = new Map<string, Token>();

  constructor(readonly path: string, private readonly poolSize: number) {
    try {
      this.lib.load(path);
    } catch (e) {
      throw badRequest(`cannot load the PKCS#11 module ${path}: ${(e as Error).message.split('\n')[0]}`);
    }
    let owns = true;
    try {
      // The async calls run on worker threads: the library must lock for itself.
      this.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (e) {
      if (pkcs11Code(e) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw new HsmUnavailable(`cannot initialize ${path}: ${(e as Error).message.split('\n')[0]}`);
      owns = false; // another user in this process initialized it and finalizes it
    }
    this.ownsInit = owns;
  }

  /** The token with this label (re-scanned when unknown, so a token added later is found). */
  token(label: string): Token {
    let t = this.tokens.get(label);
    if (t) return t;
    const slot = this.lib.C_GetSlotList(true).find((s) => this.lib.C_GetTokenInfo(s).label.trim() === label);
    if (!slot) throw new HsmUnavailable(`no token labelled "${label}" in PKCS#11 module ${this.path}`);
    t = new Token(this.lib, slot, label, this.poolSize);
    this.tokens.set(label, t);
    return t;
  }

  close(): void {
    for (const t of this.tokens.values()) t.close();
    this.tokens.clear();
    if (this.ownsInit) {
      try {
        this.lib.C_Finalize();
      } catch {
        // already finalized
      }
    }
    try {
      this.lib.close();
    } catch {
      // already closed
    }
  }
}

/**
 * How long a PIN the token rejected is refused without asking the token
 * again: a tenant with a wrong PIN must not lock the token (HSMs count failed
 * logins) nor log the other tenants of the token out on every call.
 */
const REJECTED_PIN_MS = 5_000;

/**
 * One token: a session pool and its login state.
 *
 * PKCS#11 login state belongs to the application and token, not to a
 * session: one C_Login serves every session, and a C_Logout ends it for all
 * of them. Tenants sharing a token each present a PIN, so:
 * - a PIN counts as verified only after a C_Login with it succeeded in the
 *   current login state; an operation whose PIN is not the verified one logs
 *   out and logs in with its own (CKR_USER_ALREADY_LOGGED_IN is never taken
 *   as a verdict on a PIN: it logs out and in again);
 * - operations under the verified PIN run concurrently; one that must log in
 *   waits until they have finished and runs alone meanwhile, so no tenant is
 *   logged out in the middle of an operation;
 * - a lost session or an unexpected "not logged in" clears the verified PIN,
 *   so the next operation logs in again (and is checked again).
 */
export class Token {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<{ resolve: (s: Buffer) => void; reject: (e: unknown) => void }> = [];
  private open = 0;
  readonly mech: number;
  /** Digests are keyed per process, so a memory dump gives no plain PIN hash to guess against. */
  private readonly digestKey = randomBytes(32);
  /** Digest of the PIN the current login state was verified with. */
  private verified?: Buffer;
  /** The PIN the token rejected last, refused without a login until `until`. */
  private rejected?: { digest: Buffer; until: number; error: unknown };
  /** Operations running under the verified PIN. */
  private running = 0;
  /** An operation holds the token alone to log in. */
  private loggingIn = false;
  /** Operations waiting: under the verified PIN once it matches theirs, or to log in once nothing runs. */
  private readonly queue: Array<{ digest: Buffer; grant: (login: boolean) => void }> = [];

  constructor(readonly lib: pkcs11js.PKCS11, private readonly slot: Buffer, readonly label: string, private readonly poolSize: number) {
    const mechs = new Set(lib.C_GetMechanismList(slot));
    if (mechs.has(pkcs11js.CKM_AES_KEY_WRAP_PAD)) this.mech = pkcs11js.CKM_AES_KEY_WRAP_PAD;
    else if (mechs.has(pkcs11js.CKM_AES_KEY_WRAP)) this.mech = pkcs11js.CKM_AES_KEY_WRAP;
    else throw new WrappingError('PROVIDER_REJECTED', `token "${label}" supports neither CKM_AES_KEY_WRAP_PAD nor CKM_AES_KEY_WRAP`);
  }

  /** Runs fn with a session of its own, logged in with this user PIN (verified by the token). */
  async with<T>(pin: string, fn: (session: Buffer) => Promise<T>): Promise<T> {
    const digest = createHmac('sha256', this.digestKey).update(pin).digest();
    this.refuseRejected(digest);
    let running = !(await this.enter(digest));
    let session: Buffer | undefined;
    let lost = false;
    try {
      session = await this.acquire();
      if (!running) {
        this.logIn(session, pin, digest);
        // Verified: go on like any operation under this PIN, and let the others with it in.
        this.loggingIn = false;
        this.running++;
        running = true;
        this.pump();
      }
      return await fn(session);
    } catch (e) {
      const code = pkcs11Code(e);
      lost = code !== undefined && SESSION_LOST.has(code);
      // Logged out under our feet (the token was reset, or another user of the library logged out).
      if (code === pkcs11js.CKR_USER_NOT_LOGGED_IN) this.verified = undefined;
      throw e;
    } finally {
      if (session) this.release(session, lost);
      if (running) this.running--;
      else this.loggingIn = false;
      this.pump();
    }
  }

  /** Resolves false to run under the verified PIN, true to log in first (alone). */
  private enter(digest: Buffer): Promise<boolean> {
    if (!this.loggingIn && this.queue.length === 0 && this.isVerified(digest)) {
      this.running++;
      return Promise.resolve(false);
    }
    return new Promise((grant) => {
      this.queue.push({ digest, grant });
      this.pump();
    });
  }

  /** Lets waiting operations in, in order: while their PIN is the verified one, or alone to log in. */
  private pump(): void {
    while (!this.loggingIn && this.queue.length > 0) {
      const head = this.queue[0];
      if (this.isVerified(head.digest)) {
        this.queue.shift();
        this.running++;
        head.grant(false);
      } else if (this.running === 0) {
        this.queue.shift();
        this.loggingIn = true;
        head.grant(true);
      } else {
        return; // a login waits for the running operations; later arrivals wait behind it
      }
    }
  }

  private isVerified(digest: Buffer): boolean {
    return this.verified !== undefined && timingSafeEqual(digest, this.verified);
  }

  private refuseRejected(digest: Buffer): void {
    const r = this.rejected;
    if (r && Date.now() < r.until && timingSafeEqual(digest, r.digest)) throw r.error;
  }

  /** Called alone (nothing else runs on the token): logs out whatever login there is, then in with this PIN. */
  private logIn(session: Buffer, pin: string, digest: Buffer): void {
    this.refuseRejected(digest); // rejected while this one waited
    this.verified = undefined;
    this.logOut(session);
    try {
      try {
        this.lib.C_Login(session, pkcs11js.CKU_USER, pin);
      } catch (e) {
        // Someone else logged in between (another user of the library in this
        // process): that says nothing about this PIN, so check it for real.
        if (pkcs11Code(e) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
        this.logOut(session);
        this.lib.C_Login(session, pkcs11js.CKU_USER, pin);
      }
    } catch (e) {
      if (isPinError(e)) this.rejected = { digest, until: Date.now() + REJECTED_PIN_MS, error: e };
      throw e;
    }
    this.verified = digest;
    if (this.rejected && timingSafeEqual(this.rejected.digest, digest)) this.rejected = undefined;
  }

  private logOut(session: Buffer): void {
    try {
      this.lib.C_Logout(session);
    } catch (e) {
      if (pkcs11Code(e) !== pkcs11js.CKR_USER_NOT_LOGGED_IN) throw e;
    }
  }

  private async acquire(): Promise<Buffer> {
    const s = this.free.pop();
    if (s) return s;
    if (this.open < this.poolSize) return this.openSession();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private openSession(): Buffer {
    this.open++;
    try {
      return this.lib.C_OpenSession(this.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    } catch (e) {
      this.open--;
      throw e;
    }
  }

  private release(session: Buffer, lost: boolean): void {
    const w = this.waiting.shift();
    if (!lost) {
      if (w) w.resolve(session);
      else this.free.push(session);
      return;
    }
    this.open--;
    // The login state may have gone with the session (a removed token, a reset): verify again.
    this.verified = undefined;
    try {
      this.lib.C_CloseSession(session);
    } catch {
      // gone already
    }
    // A waiter gets a fresh session instead.
    if (w) {
      try {
        w.resolve(this.openSession());
      } catch (e) {
        w.reject(e);
      }
    }
  }

  close(): void {
    try {
      // Closing the last session ends the login too.
      this.lib.C_CloseAllSessions(this.slot);
    } catch {
      // finalized already
    }
    this.verified = undefined;
    this.free.length = 0;
    this.open = 0;
  }
}

// --- the wrapped input: KEK bound to (tenant, uid)
//   u8 version = 1 | 3 zero bytes | u32 KEK length | SHA-256 of the AAD | KEK | zero padding to 8 bytes
// AES key wrap authenticates the whole input, so the AAD digest cannot be
// swapped; unwrap recomputes and compares it.

const INNER_VERSION = 1;
const AAD_DOMAIN = Buffer.from('keywarden pkcs11 aad v1\0');

export function aadDigest(tenantId: string, uid: string): Buffer {
  const h = createHash('sha256').update(AAD_DOMAIN);
  for (const s of [tenantId, uid]) {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    h.update(len).update(b);
  }
  return h.digest();
}

export function packInner(kek: Buffer, digest: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = INNER_VERSION;
  head.writeUInt32BE(kek.length, 4);
  const body = Buffer.concat([head, digest, kek]);
  const pad = (8 - (body.length % 8)) % 8;
  return pad ? Buffer.concat([body, Buffer.alloc(pad)]) : body;
}

/** The KEK, or undefined when the input is malformed or bound to another (tenant, uid). */
export function unpackInner(inner: Buffer, digest: Buffer): Buffer | undefined {
  if (inner.length < 40 || inner[0] !== INNER_VERSION) return undefined;
  const n = inner.readUInt32BE(4);
  if (40 + n > inner.length || inner.length - (40 + n) >= 8) return undefined;
  if (!timingSafeEqual(inner.subarray(8, 40), digest)) return undefined;
  return Buffer.from(inner.subarray(40, 40 + n));
}
