import { createHash, timingSafeEqual } from 'crypto';
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

/** One token: a session pool and its login state. */
export class Token {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<{ resolve: (s: Buffer) => void; reject: (e: unknown) => void }> = [];
  private open = 0;
  private pinHash?: Buffer;
  readonly mech: number;

  constructor(readonly lib: pkcs11js.PKCS11, private readonly slot: Buffer, readonly label: string, private readonly poolSize: number) {
    const mechs = new Set(lib.C_GetMechanismList(slot));
    if (mechs.has(pkcs11js.CKM_AES_KEY_WRAP_PAD)) this.mech = pkcs11js.CKM_AES_KEY_WRAP_PAD;
    else if (mechs.has(pkcs11js.CKM_AES_KEY_WRAP)) this.mech = pkcs11js.CKM_AES_KEY_WRAP;
    else throw new WrappingError('PROVIDER_REJECTED', `token "${label}" supports neither CKM_AES_KEY_WRAP_PAD nor CKM_AES_KEY_WRAP`);
  }

  /** Runs fn with a session of its own, logged in with the user PIN. */
  async with<T>(pin: string, fn: (session: Buffer) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    let lost = false;
    try {
      this.login(session, pin);
      return await fn(session);
    } catch (e) {
      const code = pkcs11Code(e);
      lost = code !== undefined && SESSION_LOST.has(code);
      throw e;
    } finally {
      this.release(session, lost);
    }
  }

  private login(session: Buffer, pin: string): void {
    const h = createHash('sha256').update(pin).digest();
    if (this.pinHash && timingSafeEqual(h, this.pinHash)) return;
    // Login is per application and token; a different PIN (rotated, or
    // wrong) is checked by logging in again.
    if (this.pinHash) {
      this.pinHash = undefined;
      try {
        this.lib.C_Logout(session);
      } catch {
        // not logged in
      }
    }
    try {
      this.lib.C_Login(session, pkcs11js.CKU_USER, pin);
    } catch (e) {
      if (pkcs11Code(e) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
    }
    this.pinHash = h;
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
    this.pinHash = undefined;
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
      this.lib.C_CloseAllSessions(this.slot);
    } catch {
      // finalized already
    }
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
