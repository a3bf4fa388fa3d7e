import * as pkcs11js from 'pkcs11js';
import { withTimeout } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { badRequest, isWrappingError, WrappingError } from '../../errors';
import type { Breaker } from '../../resilience/breaker';
import { decodeRef, encodeRef, RefKind, WrapMech } from '../../sealed-ref';
import type { CallContext, KeyContext, RootKeyInfo, Sealed, Unsealed, WrapProvider } from '../types';
import { aadDigest, ckrName, HsmUnavailable, isPinError, packInner, pkcs11Code, Pkcs11Module, Token, unpackInner } from './hsm';

// PKCS#11: the CRK is a non-extractable AES key in the tenant's token, one
// object per version with CKA_LABEL = crk_id and CKA_ID = the version number
// ("1", "2", …). A seal wraps the KEK (bound to tenant and uid, see hsm.ts)
// with C_WrapKey and AES key wrap; the sealed reference is the blob itself.

const UNWRAP_FAILED = new Set([
  pkcs11js.CKR_WRAPPED_KEY_INVALID, pkcs11js.CKR_WRAPPED_KEY_LEN_RANGE, pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
  // SoftHSM2 answers a failed integrity check of AES key wrap this way.
  pkcs11js.CKR_GENERAL_ERROR,
]);

const MECH_OF: Record<WrapMech, number> = { [WrapMech.AesKeyWrapPad]: pkcs11js.CKM_AES_KEY_WRAP_PAD, [WrapMech.AesKeyWrap]: pkcs11js.CKM_AES_KEY_WRAP };

/**
 * The wrapped input as a key object: a session object only (never stored in
 * the token), readable so unseal can check the AAD digest inside it.
 */
const SESSION_SECRET: pkcs11js.Template = [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  { type: pkcs11js.CKA_TOKEN, value: false },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: false },
  { type: pkcs11js.CKA_EXTRACTABLE, value: true },
];

interface CrkVersion {
  version: number;
  handle: Buffer;
}

export class Pkcs11Provider implements WrapProvider {
  readonly kind = 'pkcs11';

  constructor(
    private readonly module: Pkcs11Module,
    private readonly tokenLabel: string,
    readonly breaker: Breaker,
    private readonly timeoutMs: number,
  ) {}

  async seal(c: CallContext, key: KeyContext, plaintext: Buffer): Promise<Sealed> {
    return this.run(c, key, 'seal', async (t, s) => this.wrapLatest(t, s, c, key, plaintext));
  }

  async unseal(c: CallContext, key: KeyContext, refBytes: Buffer): Promise<Unsealed> {
    const ref = this.ref(refBytes);
    return this.run(c, key, 'unseal', async (t, s) => {
      const plaintext = await this.open(t, s, key, ref);
      let rewrapped: Sealed | undefined;
      const latest = this.versions(t, s, c.crkId).at(-1);
      if (latest && (ref.crkId !== c.crkId || String(latest.version) !== ref.crkVersion)) {
        try {
          rewrapped = await this.wrapWith(t, s, c.crkId, latest, key, plaintext);
        } catch (e) {
          c.log.warn({ err: (e as Error).message, tenant: key.tenantId, uid: key.uid }, 'unsealed, but rewrapping under the newest root key version failed');
        }
      }
      return { plaintext, crkVersion: ref.crkVersion, rewrapped };
    });
  }

  async rewrap(c: CallContext, key: KeyContext, refBytes: Buffer): Promise<{ sealed: Sealed; changed: boolean }> {
    const ref = this.ref(refBytes);
    return this.run(c, key, 'rewrap', async (t, s) => {
      const latest = this.versions(t, s, c.crkId).at(-1);
      if (latest && ref.crkId === c.crkId && String(latest.version) === ref.crkVersion) {
        return { sealed: { ref: refBytes, crkVersion: ref.crkVersion }, changed: false };
      }
      const plaintext = await this.open(t, s, key, ref);
      return { sealed: await this.wrapLatest(t, s, c, key, plaintext), changed: true };
    });
  }

  async destroy(_c: CallContext, _key: KeyContext, refBytes: Buffer): Promise<void> {
    // The reference is the blob: nothing is stored in the HSM per key.
    this.ref(refBytes);
  }

  async createRootKey(c: CallContext, name: string): Promise<{ crkId: string; crkVersion: string }> {
    return this.run(c, undefined, 'create the root key', async (t, s) => {
      if (this.versions(t, s, name).length) throw badRequest(`a root key labelled "${name}" exists already in token "${this.tokenLabel}"`);
      this.generate(t, s, name, 1);
      return { crkId: name, crkVersion: '1' };
    });
  }

  async checkRootKey(c: CallContext): Promise<RootKeyInfo> {
    return this.run(c, undefined, 'check the root key', async (t, s) => {
      const vs = this.versions(t, s, c.crkId);
      const latest = vs.at(-1);
      if (!latest) {
        return { state: wrappingV1.RootKeyState.ROOT_KEY_STATE_NOT_FOUND, currentVersion: '', lastRotated: '', detail: `no root key labelled "${c.crkId}" in token "${this.tokenLabel}"` };
      }
      const [wrap, unwrap] = t.lib.C_GetAttributeValue(s, latest.handle, [{ type: pkcs11js.CKA_WRAP }, { type: pkcs11js.CKA_UNWRAP }]);
      const enabled = isTrue(wrap.value) && isTrue(unwrap.value);
      return {
        state: enabled ? wrappingV1.RootKeyState.ROOT_KEY_STATE_ACTIVE : wrappingV1.RootKeyState.ROOT_KEY_STATE_SUSPENDED,
        currentVersion: String(latest.version),
        lastRotated: '',
        detail: `root key "${c.crkId}" in token "${this.tokenLabel}": ${vs.length} version(s), ${enabled ? 'enabled' : 'wrap/unwrap disabled (CKA_WRAP/CKA_UNWRAP false)'}`,
      };
    });
  }

  async rotateRootKey(c: CallContext): Promise<string> {
    return this.run(c, undefined, 'rotate the root key', async (t, s) => {
      const latest = this.versions(t, s, c.crkId).at(-1);
      if (!latest) throw this.revoked(c.crkId, undefined);
      const v = latest.version + 1;
      this.generate(t, s, c.crkId, v);
      return String(v);
    });
  }

  async deleteRootKey(c: CallContext): Promise<void> {
    await this.run(c, undefined, 'delete the root key', async (t, s) => {
      for (const v of this.versions(t, s, c.crkId)) t.lib.C_DestroyObject(s, v.handle);
    });
  }

  close(): void {
    this.breaker.shutdown();
  }

  // --- steps

  private ref(b: Buffer) {
    const ref = decodeRef(b);
    if (ref.kind !== RefKind.WrappedBlob) throw badRequest('this sealed reference names a Key Protect/HPCS standard key, not a PKCS#11 blob');
    return ref;
  }

  /** Every version of a root key, oldest first. */
  private versions(t: Token, s: Buffer, label: string): CrkVersion[] {
    t.lib.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }, { type: pkcs11js.CKA_LABEL, value: label }]);
    let handles: Buffer[];
    try {
      handles = t.lib.C_FindObjects(s, 1000);
    } finally {
      t.lib.C_FindObjectsFinal(s);
    }
    const out: CrkVersion[] = [];
    for (const handle of handles) {
      const id = t.lib.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_ID }])[0].value;
      const version = Number(Buffer.isBuffer(id) ? id.toString('utf8') : NaN);
      if (Number.isInteger(version) && version > 0) out.push({ version, handle });
    }
    return out.sort((a, b) => a.version - b.version);
  }

  private generate(t: Token, s: Buffer, label: string, version: number): void {
    t.lib.C_GenerateKey(s, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_UNWRAP, value: true },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_DECRYPT, value: false },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: Buffer.from(String(version)) },
    ]);
  }

  private async wrapLatest(t: Token, s: Buffer, c: CallContext, key: KeyContext, plaintext: Buffer): Promise<Sealed> {
    const latest = this.versions(t, s, c.crkId).at(-1);
    if (!latest) throw this.revoked(c.crkId, key);
    return this.wrapWith(t, s, c.crkId, latest, key, plaintext);
  }

  private async wrapWith(t: Token, s: Buffer, crkId: string, crk: CrkVersion, key: KeyContext, plaintext: Buffer): Promise<Sealed> {
    const inner = packInner(plaintext, aadDigest(key.tenantId, key.uid));
    const obj = t.lib.C_CreateObject(s, [...SESSION_SECRET, { type: pkcs11js.CKA_VALUE, value: inner }]);
    inner.fill(0);
    let blob: Buffer;
    try {
      blob = await t.lib.C_WrapKeyAsync(s, { mechanism: t.mech }, crk.handle, obj, Buffer.alloc(inner.length + 16));
    } finally {
      t.lib.C_DestroyObject(s, obj);
    }
    const mech = t.mech === pkcs11js.CKM_AES_KEY_WRAP_PAD ? WrapMech.AesKeyWrapPad : WrapMech.AesKeyWrap;
    const crkVersion = String(crk.version);
    return { ref: encodeRef({ kind: RefKind.WrappedBlob, crkId, crkVersion, mech, blob: Buffer.from(blob) }), crkVersion };
  }

  /** Unwraps a blob and checks its binding to (tenant, uid). */
  private async open(t: Token, s: Buffer, key: KeyContext, ref: ReturnType<Pkcs11Provider['ref']>): Promise<Buffer> {
    const vs = this.versions(t, s, ref.crkId);
    const crk = vs.find((v) => String(v.version) === ref.crkVersion);
    if (!crk) {
      if (!vs.length) throw this.revoked(ref.crkId, key);
      throw new WrappingError('CRK_NOT_FOUND', `version ${ref.crkVersion} of root key "${ref.crkId}" no longer exists in token "${this.tokenLabel}": KMIP object ${key.uid} is unrecoverable`);
    }
    let h: Buffer;
    try {
      h = await t.lib.C_UnwrapKeyAsync(s, { mechanism: MECH_OF[ref.mech] }, crk.handle, ref.blob, SESSION_SECRET);
    } catch (e) {
      const code = pkcs11Code(e);
      if (code !== undefined && UNWRAP_FAILED.has(code)) throw this.aadMismatch(key);
      throw e;
    }
    let inner: Buffer;
    try {
      inner = t.lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_VALUE }])[0].value as Buffer;
    } finally {
      t.lib.C_DestroyObject(s, h);
    }
    const kek = unpackInner(inner, aadDigest(key.tenantId, key.uid));
    inner.fill(0);
    if (!kek) throw this.aadMismatch(key);
    return kek;
  }

  /** Runs an operation on a session, through the breaker, with a timeout; maps PKCS#11 errors. */
  private async run<T>(c: CallContext, key: KeyContext | undefined, doing: string, fn: (t: Token, s: Buffer) => Promise<T>): Promise<T> {
    const remaining = Math.min(this.timeoutMs, c.deadline - Date.now());
    if (remaining <= 0) throw new WrappingError('PROVIDER_UNAVAILABLE', `no time left to ${doing} before the caller's deadline`);
    try {
      return await this.breaker.run(() => {
        const op = Promise.resolve().then(() => {
          const t = this.module.token(this.tokenLabel);
          return t.with(c.credential, (s) => fn(t, s));
        });
        return withTimeout(op, remaining, () => new HsmUnavailable(`the HSM did not ${doing} within ${remaining} ms`));
      });
    } catch (e) {
      throw this.map(e, key, doing);
    }
  }

  private map(e: unknown, key: KeyContext | undefined, doing: string): unknown {
    if (isWrappingError(e)) return e;
    const where = `token "${this.tokenLabel}" of ${this.module.path}`;
    if (e instanceof HsmUnavailable) return new WrappingError('PROVIDER_UNAVAILABLE', `cannot ${doing}: ${e.message}`, { cause: e });
    const code = pkcs11Code(e);
    if (code === undefined) return e;
    const name = ckrName(code);
    if (isPinError(e)) return new WrappingError('AUTH_FAILED', `the HSM rejected the user PIN of ${where} (${name}); check credential_ref`, { cause: e });
    if (code === pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED) {
      return new WrappingError('CRK_DISABLED', `the root key in ${where} may not wrap or unwrap (CKA_WRAP/CKA_UNWRAP off): seal and unseal${key ? ` for tenant ${key.tenantId}` : ''} are refused until it is enabled again`, { cause: e });
    }
    if (code === pkcs11js.CKR_OBJECT_HANDLE_INVALID || code === pkcs11js.CKR_KEY_HANDLE_INVALID) {
      return new WrappingError('CRK_DELETED', `the root key in ${where} was destroyed while in use: every key${key ? ` of tenant ${key.tenantId}` : ''} is revoked`, { cause: e });
    }
    if (code === pkcs11js.CKR_DEVICE_ERROR || code === pkcs11js.CKR_DEVICE_REMOVED || code === pkcs11js.CKR_TOKEN_NOT_PRESENT || code === pkcs11js.CKR_FUNCTION_FAILED
      || code === pkcs11js.CKR_SESSION_HANDLE_INVALID || code === pkcs11js.CKR_SESSION_CLOSED || code === pkcs11js.CKR_DEVICE_MEMORY) {
      return new WrappingError('PROVIDER_UNAVAILABLE', `the HSM failed to ${doing} in ${where} (${name})`, { cause: e });
    }
    return new WrappingError('PROVIDER_ERROR', `the HSM failed to ${doing} in ${where} (${name})`, { cause: e });
  }

  private revoked(crkId: string, key: KeyContext | undefined): WrappingError {
    return new WrappingError('CRK_DELETED', `no root key labelled "${crkId}" in token "${this.tokenLabel}": it was deleted, and every key${key ? ` of tenant ${key.tenantId}` : ''} is revoked`);
  }

  private aadMismatch(key: KeyContext): WrappingError {
    return new WrappingError('AAD_MISMATCH', `the HSM could not unwrap the key of KMIP object ${key.uid}: the blob is corrupted or bound to another tenant or uid`);
  }
}

function isTrue(v: unknown): boolean {
  return Buffer.isBuffer(v) ? v.length > 0 && v[0] !== 0 : Boolean(v);
}
