import { createHash } from 'crypto';
import { wrappingV1 } from '@keywarden/proto';
import type { RetryConfig } from '../../config';
import type { Breaker } from '../../resilience/breaker';
import { badRequest, isWrappingError, Reason, WrappingError } from '../../errors';
import { retryDelay, sleep } from '../../resilience/retry';
import { decodeRef, encodeRef, RefKind } from '../../sealed-ref';
import type { CallContext, KeyContext, RootKeyInfo, Sealed, Unsealed, WrapProvider } from '../types';
import { KpClient, KpHttpError, NetworkError } from './client';

// Key Protect and HPCS (same key-management API). A seal wraps the KEK with
// the CRK, AAD [tenant_id, uid], and stores the ciphertext as the payload of a
// standard key named after the KMIP uid in the tenant's instance: customers
// see each key, and deleting one revokes that key alone. The sealed reference
// names that standard key.

const KEY_JSON = 'application/vnd.ibm.kms.key+json';
const STATE: Record<number, wrappingV1.RootKeyState> = {
  0: wrappingV1.RootKeyState.ROOT_KEY_STATE_PRE_ACTIVE,
  1: wrappingV1.RootKeyState.ROOT_KEY_STATE_ACTIVE,
  2: wrappingV1.RootKeyState.ROOT_KEY_STATE_SUSPENDED,
  3: wrappingV1.RootKeyState.ROOT_KEY_STATE_DEACTIVATED,
  5: wrappingV1.RootKeyState.ROOT_KEY_STATE_DESTROYED,
};
const STATE_WORDS: Record<number, string> = { 0: 'pre-active', 1: 'active', 2: 'suspended (disabled)', 3: 'deactivated', 5: 'destroyed' };

interface KeyResource {
  id: string;
  name?: string;
  state?: number;
  deleted?: boolean;
  payload?: string;
  extractable?: boolean;
  lastRotateDate?: string;
  keyVersion?: { id?: string };
}

interface Collection {
  resources?: KeyResource[];
}

/** The name of the standard key holding a uid's KEK (Key Protect names: at most 90 characters). */
export function standardKeyName(uid: string): string {
  return /^[A-Za-z0-9._-]{1,85}$/.test(uid) ? `kmip-${uid}` : `kmip-${createHash('sha256').update(uid).digest('hex').slice(0, 40)}`;
}

type Subject = 'crk' | 'sealed' | 'other';

export class KeyProtectProvider implements WrapProvider {
  readonly kind: string;
  readonly breaker: Breaker;
  private readonly service: string;

  constructor(private readonly kp: KpClient, private readonly retry: RetryConfig) {
    this.kind = kp.target.kind;
    this.breaker = kp.breaker;
    this.service = kp.target.kind === 'hpcs' ? 'Hyper Protect Crypto Services' : 'Key Protect';
  }

  async seal(c: CallContext, key: KeyContext, plaintext: Buffer): Promise<Sealed> {
    const w = await this.wrap(c, key, c.crkId, plaintext);
    return this.store(c, key, c.crkId, w.ciphertext, w.version);
  }

  async unseal(c: CallContext, key: KeyContext, refBytes: Buffer): Promise<Unsealed> {
    const ref = this.ref(refBytes);
    const ciphertext = await this.payload(c, key, ref.keyId);
    const u = await this.do(c, key, 'crk', ref.crkId, () => this.kp.json<{ plaintext?: string; keyVersion?: { id?: string }; ciphertext?: string; rewrappedKeyVersion?: { id?: string } }>(c.credential, c.deadline, {
      method: 'POST', path: `keys/${enc(ref.crkId)}/actions/unwrap`, body: { ciphertext, aad: aad(key) }, idempotent: true,
    }));
    if (typeof u.plaintext !== 'string') throw this.unexpected('unwrap');
    const plaintext = Buffer.from(u.plaintext, 'base64');
    const crkVersion = u.keyVersion?.id ?? ref.crkVersion;
    // Rotated since the seal (or the tenant moved to another root key): store
    // the newer ciphertext too. Best effort: the plaintext is served either way.
    let rewrapped: Sealed | undefined;
    try {
      if (ref.crkId !== c.crkId) {
        const w = await this.wrap(c, key, c.crkId, plaintext);
        rewrapped = await this.store(c, key, c.crkId, w.ciphertext, w.version);
      } else if (typeof u.ciphertext === 'string' && u.rewrappedKeyVersion?.id && u.rewrappedKeyVersion.id !== crkVersion) {
        rewrapped = await this.store(c, key, ref.crkId, u.ciphertext, u.rewrappedKeyVersion.id);
      }
    } catch (e) {
      c.log.warn({ err: describe(e), tenant: key.tenantId, uid: key.uid }, 'unsealed, but storing the rewrapped key failed; the next unseal or rewrap tries again');
      rewrapped = undefined;
    }
    return { plaintext, crkVersion, rewrapped };
  }

  async rewrap(c: CallContext, key: KeyContext, refBytes: Buffer): Promise<{ sealed: Sealed; changed: boolean }> {
    const ref = this.ref(refBytes);
    const ciphertext = await this.payload(c, key, ref.keyId);
    if (ref.crkId !== c.crkId) {
      const u = await this.do(c, key, 'crk', ref.crkId, () => this.kp.json<{ plaintext?: string }>(c.credential, c.deadline, {
        method: 'POST', path: `keys/${enc(ref.crkId)}/actions/unwrap`, body: { ciphertext, aad: aad(key) }, idempotent: true,
      }));
      if (typeof u.plaintext !== 'string') throw this.unexpected('unwrap');
      const w = await this.wrap(c, key, c.crkId, Buffer.from(u.plaintext, 'base64'));
      return { sealed: await this.store(c, key, c.crkId, w.ciphertext, w.version), changed: true };
    }
    const r = await this.do(c, key, 'crk', ref.crkId, () => this.kp.json<{ ciphertext?: string; keyVersion?: { id?: string }; rewrappedKeyVersion?: { id?: string } }>(c.credential, c.deadline, {
      method: 'POST', path: `keys/${enc(ref.crkId)}/actions/rewrap`, body: { ciphertext, aad: aad(key) }, idempotent: true,
    }));
    const from = r.keyVersion?.id;
    const to = r.rewrappedKeyVersion?.id;
    if (typeof r.ciphertext !== 'string' || !to) throw this.unexpected('rewrap');
    if (from === to) return { sealed: { ref: refBytes, crkVersion: to }, changed: false };
    return { sealed: await this.store(c, key, ref.crkId, r.ciphertext, to), changed: true };
  }

  async destroy(c: CallContext, key: KeyContext, refBytes: Buffer): Promise<void> {
    const ref = this.ref(refBytes);
    try {
      await this.kp.call(c.credential, c.deadline, { method: 'DELETE', path: `keys/${enc(ref.keyId)}`, idempotent: true, prefer: 'return=minimal' });
    } catch (e) {
      // Already deleted or purged: the outcome the caller wants.
      if (e instanceof KpHttpError && (e.status === 404 || e.status === 410)) return;
      throw this.map(e, 'sealed', key, ref.keyId, 'delete the standard key');
    }
  }

  async createRootKey(c: CallContext, name: string): Promise<{ crkId: string; crkVersion: string }> {
    const body = { metadata: { collectionType: KEY_JSON, collectionTotal: 1 }, resources: [{ type: KEY_JSON, name, description: 'keywarden customer root key', extractable: false }] };
    const r = await this.do(c, undefined, 'other', '', () => this.kp.json<Collection>(c.credential, c.deadline, {
      method: 'POST', path: 'keys', body, idempotent: false, prefer: 'return=representation', contentType: KEY_JSON,
    }));
    const k = r.resources?.[0];
    if (!k?.id) throw this.unexpected('create key');
    return { crkId: k.id, crkVersion: k.keyVersion?.id ?? '' };
  }

  async checkRootKey(c: CallContext): Promise<RootKeyInfo> {
    let k: KeyResource | undefined;
    try {
      k = (await this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys/${enc(c.crkId)}/metadata`, idempotent: true })).resources?.[0];
    } catch (e) {
      const where = `${this.service} instance ${this.kp.target.instance}`;
      if (e instanceof KpHttpError && e.status === 404) return { state: wrappingV1.RootKeyState.ROOT_KEY_STATE_NOT_FOUND, currentVersion: '', lastRotated: '', detail: `root key ${c.crkId} does not exist in ${where}` };
      if (e instanceof KpHttpError && e.status === 410) return { state: wrappingV1.RootKeyState.ROOT_KEY_STATE_DELETED, currentVersion: '', lastRotated: '', detail: `root key ${c.crkId} was deleted in ${where}` };
      throw this.map(e, 'other', undefined, c.crkId, 'read the root key');
    }
    if (!k) throw this.unexpected('key metadata');
    const where = `${this.service} instance ${this.kp.target.instance}`;
    if (k.extractable) throw new WrappingError('PROVIDER_REJECTED', `crk_id ${c.crkId} names a standard key in ${where}, not a root key`);
    const state = k.deleted ? wrappingV1.RootKeyState.ROOT_KEY_STATE_DELETED : STATE[k.state ?? -1] ?? wrappingV1.RootKeyState.ROOT_KEY_STATE_UNSPECIFIED;
    const words = k.deleted ? 'deleted (restorable for 30 days after deletion)' : STATE_WORDS[k.state ?? -1] ?? `state ${String(k.state)}`;
    return {
      state,
      currentVersion: k.keyVersion?.id ?? '',
      lastRotated: k.lastRotateDate ?? '',
      detail: `root key ${k.name ? `"${k.name}" ` : ''}${c.crkId} in ${where} is ${words}`,
    };
  }

  async rotateRootKey(c: CallContext): Promise<string> {
    // Not idempotent: a retried rotate could rotate twice.
    await this.do(c, undefined, 'crk', c.crkId, () => this.kp.call(c.credential, c.deadline, { method: 'POST', path: `keys/${enc(c.crkId)}/actions/rotate`, body: {}, idempotent: false }));
    const info = await this.checkRootKey(c);
    return info.currentVersion;
  }

  async deleteRootKey(c: CallContext, force: boolean): Promise<void> {
    try {
      await this.kp.call(c.credential, c.deadline, { method: 'DELETE', path: `keys/${enc(c.crkId)}${force ? '?force=true' : ''}`, idempotent: true, prefer: 'return=minimal' });
    } catch (e) {
      if (e instanceof KpHttpError && e.status === 410) return;
      throw this.map(e, 'crk', undefined, c.crkId, 'delete the root key');
    }
  }

  close(): void {
    this.breaker.shutdown();
  }

  // --- steps

  private ref(b: Buffer) {
    const ref = decodeRef(b);
    if (ref.kind !== RefKind.StandardKey) throw badRequest(`this sealed reference is a PKCS#11 blob, not a ${this.service} standard key`);
    return ref;
  }

  private async wrap(c: CallContext, key: KeyContext, crkId: string, plaintext: Buffer): Promise<{ ciphertext: string; version: string }> {
    // Wrapping given bytes changes no state, so it is safe to retry.
    const w = await this.do(c, key, 'crk', crkId, () => this.kp.json<{ ciphertext?: string; keyVersion?: { id?: string } }>(c.credential, c.deadline, {
      method: 'POST', path: `keys/${enc(crkId)}/actions/wrap`, body: { plaintext: plaintext.toString('base64'), aad: aad(key) }, idempotent: true,
    }));
    if (typeof w.ciphertext !== 'string' || !w.keyVersion?.id) throw this.unexpected('wrap');
    return { ciphertext: w.ciphertext, version: w.keyVersion.id };
  }

  /** The ciphertext held by the standard key a reference names. */
  private async payload(c: CallContext, key: KeyContext, keyId: string): Promise<string> {
    const r = await this.do(c, key, 'sealed', keyId, () => this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys/${enc(keyId)}`, idempotent: true }));
    const k = r.resources?.[0];
    if (k?.deleted || k?.state === 5) throw this.map(new KpHttpError(410, 'KEY_DELETED_ERR', undefined), 'sealed', key, keyId, 'read the wrapped key');
    if (typeof k?.payload !== 'string' || !k.payload) throw this.unexpected('get key (no payload)');
    return k.payload;
  }

  /** Creates the standard key holding a ciphertext; returns the sealed reference. */
  private async store(c: CallContext, key: KeyContext, crkId: string, ciphertext: string, crkVersion: string): Promise<Sealed> {
    const name = standardKeyName(key.uid);
    const description = `keywarden: KEK of KMIP object ${key.uid} (tenant ${key.tenantId}), wrapped by root key ${crkId}`.slice(0, 240);
    const body = { metadata: { collectionType: KEY_JSON, collectionTotal: 1 }, resources: [{ type: KEY_JSON, name, description, extractable: true, payload: ciphertext }] };
    // Creating is not idempotent. After an answer that leaves it unclear
    // whether the key was created (no answer, 5xx), look for it by name and
    // payload before trying again; a 429 was not processed and is retried.
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.kp.json<Collection>(c.credential, c.deadline, { method: 'POST', path: 'keys', body, idempotent: false, prefer: 'return=minimal', contentType: KEY_JSON });
        const id = r.resources?.[0]?.id;
        if (!id) throw this.unexpected('create key');
        return { ref: encodeRef({ kind: RefKind.StandardKey, crkId, crkVersion, keyId: id }), crkVersion };
      } catch (e) {
        const ambiguous = e instanceof NetworkError || (e instanceof KpHttpError && e.status >= 500 && e.status !== 501);
        const limited = e instanceof KpHttpError && e.status === 429;
        const delay = ambiguous || limited ? retryDelay({ kind: 'network' }, attempt, true, this.retry, c.deadline - Date.now()) : undefined;
        if (delay === undefined) throw this.map(e, 'other', key, name, 'create the standard key');
        await sleep(delay);
        if (ambiguous) {
          const found = await this.findStandardKey(c, name, ciphertext).catch(() => {
            // Unknown whether the first create landed: do not risk a second copy.
            throw this.map(e, 'other', key, name, 'create the standard key');
          });
          if (found) return { ref: encodeRef({ kind: RefKind.StandardKey, crkId, crkVersion, keyId: found }), crkVersion };
        }
      }
    }
  }

  private async findStandardKey(c: CallContext, name: string, payload: string): Promise<string | undefined> {
    const q = new URLSearchParams({ search: `exact:name:${name}`, extractable: 'true', limit: '50' });
    const list = await this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys?${q}`, idempotent: true });
    for (const k of list.resources ?? []) {
      const full = await this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys/${enc(k.id)}`, idempotent: true });
      if (full.resources?.[0]?.payload === payload) return k.id;
    }
    return undefined;
  }

  private async do<T>(c: CallContext, key: KeyContext | undefined, subject: Subject, id: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.map(e, subject, key, id || c.crkId, subject === 'sealed' ? 'read the wrapped key' : 'use the root key');
    }
  }

  private unexpected(what: string): WrappingError {
    return new WrappingError('PROVIDER_ERROR', `${this.service} at ${this.kp.host} answered ${what} with an unexpected body`);
  }

  /** Provider failure → operator-readable WrappingError (mapping table in ../../errors.ts). */
  private map(e: unknown, subject: Subject, key: KeyContext | undefined, id: string, doing: string): unknown {
    if (isWrappingError(e)) return e;
    const inst = `${this.service} instance ${this.kp.target.instance}`;
    const tenant = key ? `tenant ${key.tenantId}` : 'this tenant';
    const err = (reason: Reason, message: string) => new WrappingError(reason, message, { cause: e });
    if (e instanceof NetworkError) return err('PROVIDER_UNAVAILABLE', `cannot reach ${this.service} at ${this.kp.host} to ${doing}: ${e.message}`);
    if (!(e instanceof KpHttpError)) return e;
    const code = e.code ?? '';
    const what = `HTTP ${e.status}${code ? ` ${code}` : ''}`;
    if (subject === 'sealed' && (e.status === 404 || e.status === 410)) {
      const uid = key ? `KMIP object ${key.uid}` : 'this key';
      return e.status === 410
        ? err('SEALED_KEY_DELETED', `the wrapped key of ${uid} (standard key ${id} in ${inst}) was deleted: this key is revoked; other keys of ${tenant} are unaffected`)
        : err('SEALED_KEY_NOT_FOUND', `the wrapped key of ${uid} (standard key ${id}) does not exist in ${inst}: this key is revoked`);
    }
    if (subject === 'crk' && e.status === 410) {
      return err('CRK_DELETED', `root key ${id} was deleted in ${inst}: every key of ${tenant} is revoked until the root key is restored (possible within 30 days of its deletion)`);
    }
    if (subject === 'crk' && e.status === 404) {
      return err('CRK_NOT_FOUND', `root key ${id} does not exist in ${inst} (purged, or a wrong crk_id): every key of ${tenant} is unrecoverable`);
    }
    if (subject === 'crk' && (code === 'KEY_ACTION_INVALID_STATE_ERR' || code === 'KEY_INVALID_STATE_ERR')) {
      return err('CRK_DISABLED', `root key ${id} in ${inst} is not active (disabled or expired): seal and unseal for ${tenant} are refused until it is enabled again`);
    }
    if (code === 'UNPROCESSABLE_CIPHERTEXT_ERR' || code === 'KEY_VERSION_INVALID') {
      const uid = key ? `KMIP object ${key.uid}` : 'this key';
      return err('AAD_MISMATCH', `${this.service} could not unwrap the key of ${uid}: the wrapped key is corrupted or bound to another tenant or uid (AAD mismatch)`);
    }
    if (code === 'KEY_ROOT_REQ_ERR') return err('PROVIDER_REJECTED', `crk_id ${id} names a standard key in ${inst}, not a root key`);
    if (code === 'KEY_ROTATION_NOT_PERMITTED' || code === 'REQ_TOO_EARLY_ERR') return err('ROTATION_NOT_PERMITTED', `${this.service} refused to ${doing} ${id} now (${code}): it was changed too recently; try again later`);
    if (code === 'PROTECTED_RESOURCE_ERR') return err('CRK_PROTECTED', `root key ${id} protects registered cloud resources in ${inst}; delete with force to shred them too`);
    if (e.status === 401) return err('AUTH_FAILED', `${this.service} at ${this.kp.host} rejected a fresh IAM token for ${inst} (${what}): the API key's identity has no access to this instance`);
    if (e.status === 403) return err('FORBIDDEN', `${this.service} at ${this.kp.host} refused to ${doing} (${what}): check the access policy of the API key's identity`);
    if (e.status === 429) return err('RATE_LIMITED', `${this.service} at ${this.kp.host} is rate limiting (429) after retries; try again later`);
    if (e.status >= 500 && e.status !== 501) return err('PROVIDER_UNAVAILABLE', `${this.service} at ${this.kp.host} failed to ${doing}: ${what}`);
    return err('PROVIDER_REJECTED', `${this.service} at ${this.kp.host} rejected the request to ${doing}: ${what}${e.errorMsg ? ` (${e.errorMsg})` : ''}`);
  }
}

function aad(key: KeyContext): string[] {
  return [key.tenantId, key.uid];
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
