import { createHash } from 'crypto';
import { wrappingV1 } from '@keywarden/proto';
import type { RetryConfig } from '../../config';
import type { Breaker } from '../../resilience/breaker';
import { badRequest, isWrappingError, Reason, WrappingError } from '../../errors';
import { Outcome, parseRetryAfter, retryDelay, sleep } from '../../resilience/retry';
import { decodeRef, encodeRef, RefKind } from '../../sealed-ref';
import type { CallContext, KeyContext, RootKeyInfo, Sealed, Unsealed, WrapProvider } from '../types';
import { KpClient, KpHttpError, MalformedAnswer, NetworkError } from './client';
import { Collection, KeyResource, keyList, oneKey, rewrapped, Rewrapped, standardKey, Unwrapped, unwrapped, wrapped, Wrapped } from './shapes';

// Key Protect and HPCS (same key-management API, docs/keyprotect-api.md). A
// seal wraps the KEK with the CRK, AAD [tenant_id, uid], and stores the
// ciphertext as the payload of a standard key named after the KMIP uid in the
// tenant's instance: customers see each key, and deleting one revokes that
// key alone. The sealed reference names that standard key.

const KEY_JSON = 'application/vnd.ibm.kms.key+json';
const STATE: Record<number, wrappingV1.RootKeyState> = {
  0: wrappingV1.RootKeyState.ROOT_KEY_STATE_PRE_ACTIVE,
  1: wrappingV1.RootKeyState.ROOT_KEY_STATE_ACTIVE,
  2: wrappingV1.RootKeyState.ROOT_KEY_STATE_SUSPENDED,
  3: wrappingV1.RootKeyState.ROOT_KEY_STATE_DEACTIVATED,
  5: wrappingV1.RootKeyState.ROOT_KEY_STATE_DESTROYED,
};
const STATE_WORDS: Record<number, string> = { 0: 'pre-active', 1: 'active', 2: 'suspended (disabled)', 3: 'deactivated', 5: 'destroyed' };

/** Clock difference allowed between keywarden and the service when looking for a key created since a moment. */
export const LOOKUP_SKEW_MS = 5 * 60_000;
/** Keys asked for per page of a lookup. */
const LOOKUP_PAGE = 1000;
/** Keys a lookup reads at most; beyond it the lookup gives up, and the seal fails rather than risk a second copy. */
export const LOOKUP_MAX_SCAN = 10_000;
/** Keys of one name whose payload a lookup compares at most (a name has one key per rewrap of its object). */
const LOOKUP_MAX_CANDIDATES = 50;

/** What a call did, for messages; UNWRAP and REWRAP present a ciphertext, so a refused ciphertext is an AAD mismatch. */
const UNWRAP = 'unwrap the key';
const REWRAP = 'rewrap the key';

/** The name of the standard key holding a uid's KEK (Key Protect names: 2 to 90 characters). */
export function standardKeyName(uid: string): string {
  return /^[A-Za-z0-9._-]{1,85}$/.test(uid) ? `kmip-${uid}` : `kmip-${createHash('sha256').update(uid).digest('hex').slice(0, 40)}`;
}

/** Its description (at most 240 characters): names the object, the tenant and the root key; unseal checks it. */
export function standardKeyDescription(key: KeyContext, crkId: string): string {
  return `keywarden: KEK of KMIP object ${key.uid} (tenant ${key.tenantId}), wrapped by root key ${crkId}`.slice(0, 240);
}

type Subject = 'crk' | 'sealed' | 'other';

/** A lookup that could not cover every candidate: whether the key exists stays unknown. */
class LookupIncomplete extends Error {}

/** The outcome of a failed attempt, for the retry policy (Retry-After included). */
function outcomeOf(e: unknown): Outcome {
  if (e instanceof KpHttpError) return { kind: 'status', status: e.status, retryAfterMs: parseRetryAfter(e.retryAfter) };
  if (e instanceof NetworkError && e.timedOut) return { kind: 'timeout' };
  return { kind: 'network' };
}

/** No answer, an unreadable one, or an outage status: the request may or may not have been processed. */
function isUnclear(e: unknown): boolean {
  return e instanceof NetworkError || e instanceof MalformedAnswer || (e instanceof KpHttpError && e.status >= 500 && e.status !== 501);
}

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
    const ciphertext = await this.payload(c, key, ref.keyId, ref.crkId);
    const u = await this.do(c, key, 'crk', ref.crkId, UNWRAP, () => this.kp.json<Unwrapped>(c.credential, c.deadline, {
      method: 'POST', path: `keys/${enc(ref.crkId)}/actions/unwrap`, body: { ciphertext, aad: aad(key) }, idempotent: true, shape: unwrapped,
    }));
    const plaintext = Buffer.from(u.plaintext, 'base64');
    const crkVersion = u.keyVersion?.id ?? ref.crkVersion;
    // Rotated since the seal (or the tenant moved to another root key): store
    // the newer ciphertext too. Best effort: the plaintext is served either way.
    let rewrappedRef: Sealed | undefined;
    try {
      if (ref.crkId !== c.crkId) {
        const w = await this.wrap(c, key, c.crkId, plaintext);
        rewrappedRef = await this.store(c, key, c.crkId, w.ciphertext, w.version);
      } else if (u.ciphertext !== undefined && u.rewrappedKeyVersion && u.rewrappedKeyVersion.id !== crkVersion) {
        rewrappedRef = await this.store(c, key, ref.crkId, u.ciphertext, u.rewrappedKeyVersion.id);
      }
    } catch (e) {
      c.log.warn({ err: describe(e), tenant: key.tenantId, uid: key.uid }, 'unsealed, but storing the rewrapped key failed; the next unseal or rewrap tries again');
      rewrappedRef = undefined;
    }
    return { plaintext, crkVersion, rewrapped: rewrappedRef };
  }

  async rewrap(c: CallContext, key: KeyContext, refBytes: Buffer): Promise<{ sealed: Sealed; changed: boolean }> {
    const ref = this.ref(refBytes);
    const ciphertext = await this.payload(c, key, ref.keyId, ref.crkId);
    if (ref.crkId !== c.crkId) {
      const u = await this.do(c, key, 'crk', ref.crkId, UNWRAP, () => this.kp.json<Unwrapped>(c.credential, c.deadline, {
        method: 'POST', path: `keys/${enc(ref.crkId)}/actions/unwrap`, body: { ciphertext, aad: aad(key) }, idempotent: true, shape: unwrapped,
      }));
      const w = await this.wrap(c, key, c.crkId, Buffer.from(u.plaintext, 'base64'));
      return { sealed: await this.store(c, key, c.crkId, w.ciphertext, w.version), changed: true };
    }
    const r = await this.do(c, key, 'crk', ref.crkId, REWRAP, () => this.kp.json<Rewrapped>(c.credential, c.deadline, {
      method: 'POST', path: `keys/${enc(ref.crkId)}/actions/rewrap`, body: { ciphertext, aad: aad(key) }, idempotent: true, shape: rewrapped,
    }));
    const to = r.rewrappedKeyVersion.id;
    if (r.keyVersion.id === to) return { sealed: { ref: refBytes, crkVersion: to }, changed: false };
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
    // create-root-keys.md: names of 2 to 90 characters; refused here, before anything is sent.
    if (name.length < 2 || name.length > 90) throw badRequest(`a ${this.service} root key name has 2 to 90 characters; "${name}" has ${name.length}`);
    const body = { metadata: { collectionType: KEY_JSON, collectionTotal: 1 }, resources: [{ type: KEY_JSON, name, description: 'keywarden customer root key', extractable: false }] };
    const r = await this.do(c, undefined, 'other', '', 'create the root key', () => this.kp.json<Collection>(c.credential, c.deadline, {
      method: 'POST', path: 'keys', body, idempotent: false, prefer: 'return=representation', contentType: KEY_JSON, shape: oneKey,
    }));
    const k = r.resources[0];
    return { crkId: k.id, crkVersion: k.keyVersion?.id ?? '' };
  }

  async checkRootKey(c: CallContext): Promise<RootKeyInfo> {
    let k: KeyResource;
    try {
      k = (await this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys/${enc(c.crkId)}/metadata`, idempotent: true, shape: oneKey })).resources[0];
    } catch (e) {
      const where = `${this.service} instance ${this.kp.target.instance}`;
      if (e instanceof KpHttpError && e.status === 404) return { state: wrappingV1.RootKeyState.ROOT_KEY_STATE_NOT_FOUND, currentVersion: '', lastRotated: '', detail: `root key ${c.crkId} does not exist in ${where}` };
      if (e instanceof KpHttpError && e.status === 410) return { state: wrappingV1.RootKeyState.ROOT_KEY_STATE_DELETED, currentVersion: '', lastRotated: '', detail: `root key ${c.crkId} was deleted in ${where}` };
      throw this.map(e, 'other', undefined, c.crkId, 'read the root key');
    }
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
    await this.do(c, undefined, 'crk', c.crkId, 'rotate the root key', () => this.kp.call(c.credential, c.deadline, { method: 'POST', path: `keys/${enc(c.crkId)}/actions/rotate`, body: {}, idempotent: false }));
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
    const w = await this.do(c, key, 'crk', crkId, 'wrap the key', () => this.kp.json<Wrapped>(c.credential, c.deadline, {
      method: 'POST', path: `keys/${enc(crkId)}/actions/wrap`, body: { plaintext: plaintext.toString('base64'), aad: aad(key) }, idempotent: true, shape: wrapped,
    }));
    return { ciphertext: w.ciphertext, version: w.keyVersion.id };
  }

  /**
   * The ciphertext held by the standard key a reference names, once its name
   * and description show it was made for this object of this tenant under
   * root key `crkId`. The AAD binds the same on Key Protect; this check holds
   * where the service might not (HPCS does not document AAD).
   */
  private async payload(c: CallContext, key: KeyContext, keyId: string, crkId: string): Promise<string> {
    const r = await this.do(c, key, 'sealed', keyId, 'read the wrapped key', () => this.kp.json<Collection>(c.credential, c.deadline, {
      method: 'GET', path: `keys/${enc(keyId)}`, idempotent: true, shape: standardKey,
    }));
    const k = r.resources[0];
    if (k.deleted || k.state === 5) throw this.map(new KpHttpError(410, 'KEY_DELETED_ERR', undefined), 'sealed', key, keyId, 'read the wrapped key');
    if (k.name !== standardKeyName(key.uid) || k.description !== standardKeyDescription(key, crkId)) {
      throw new WrappingError('AAD_MISMATCH', `standard key ${keyId} in ${this.service} instance ${this.kp.target.instance} was not made for KMIP object ${key.uid} of tenant ${key.tenantId} (its name or description names another): the reference is bound to another tenant or uid (AAD mismatch)`);
    }
    return k.payload ?? '';
  }

  /**
   * Creates the standard key holding a ciphertext; returns the sealed
   * reference. Creating is not idempotent: after an attempt whose outcome is
   * unclear (no answer, an unreadable one, 5xx) the key is looked up by name
   * and payload before another attempt, and found copies are reused (one) or
   * deleted (the others). A 429 was not processed and is retried after its
   * Retry-After. When the outcome stays unknown, the seal fails and a log line
   * names the key to look for (docs/crk-wrapping.md, "Standard keys").
   */
  private async store(c: CallContext, key: KeyContext, crkId: string, ciphertext: string, crkVersion: string): Promise<Sealed> {
    const name = standardKeyName(key.uid);
    const body = { metadata: { collectionType: KEY_JSON, collectionTotal: 1 }, resources: [{ type: KEY_JSON, name, description: standardKeyDescription(key, crkId), extractable: true, payload: ciphertext }] };
    const sealed = (keyId: string): Sealed => ({ ref: encodeRef({ kind: RefKind.StandardKey, crkId, crkVersion, keyId }), crkVersion });
    const since = Date.now();
    /** An attempt that may have created a key no lookup has accounted for yet. */
    let unresolved: unknown;
    let everUnclear = false;
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const r = await this.kp.json<Collection>(c.credential, c.deadline, { method: 'POST', path: 'keys', body, idempotent: false, prefer: 'return=minimal', contentType: KEY_JSON, shape: oneKey });
        const id = r.resources[0].id;
        // An earlier attempt may still land after the lookup that did not see it: look again once it would have.
        if (everUnclear) this.sweepLater(c, key, name, ciphertext, since, id);
        return sealed(id);
      } catch (e) {
        failure = e;
      }
      if (isUnclear(failure)) {
        unresolved = failure;
        everUnclear = true;
      }
      const limited = failure instanceof KpHttpError && failure.status === 429;
      const delay = isUnclear(failure) || limited ? retryDelay(outcomeOf(failure), attempt, true, this.retry, c.deadline - Date.now()) : undefined;
      if (delay === undefined) {
        if (unresolved !== undefined) this.reportPossibleOrphan(c, key, name, since, 'no attempt is left before the deadline');
        throw this.map(failure, 'other', key, name, 'create the standard key');
      }
      await sleep(delay);
      if (unresolved === undefined) continue;
      let found: string[];
      try {
        found = await this.findStandardKeys(c, name, ciphertext, since);
      } catch (e) {
        // Unknown whether an attempt landed: do not risk a second copy.
        this.reportPossibleOrphan(c, key, name, since, `the lookup failed: ${describe(e)}`);
        throw this.map(unresolved, 'other', key, name, 'create the standard key');
      }
      unresolved = undefined;
      if (found.length > 0) {
        await this.dropCopies(c, key, name, ciphertext, since, [found[0]], found.slice(1));
        return sealed(found[0]);
      }
    }
  }

  /**
   * The ids of the standard keys named `name` holding `payload` created since
   * `since` (less the clock skew allowed). Narrowed so that it works in an
   * instance of any size: the creation window (`filter`) keeps the search
   * under the 5,000 keys it may cover, and the name is matched exactly
   * (`search=name:exact:`, the scope before exact:). Where the service
   * refuses that (more than 5,000 keys created in the window, or no `search`
   * or `filter`, which HPCS does not document), the narrower query's
   * fallback pages through what it may read, up to LOOKUP_MAX_SCAN keys.
   * Names and payloads are compared here, whatever the service did with the
   * query. Throws when it cannot be sure.
   */
  private async findStandardKeys(c: CallContext, name: string, payload: string, since: number): Promise<string[]> {
    const from = new Date(Math.floor((since - LOOKUP_SKEW_MS) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const filter = `creationDate=gte:"${from}" extractable=true`;
    const queries: Array<Record<string, string>> = [{ filter, search: `name:exact:${name}` }, { filter }, {}];
    let candidates: string[] = [];
    for (const [i, q] of queries.entries()) {
      try {
        candidates = await this.scan(c, q, name);
        break;
      } catch (e) {
        // A query the service refuses as such (400): try the next, less narrow one.
        if (i < queries.length - 1 && e instanceof KpHttpError && e.status === 400) continue;
        throw e;
      }
    }
    if (candidates.length > LOOKUP_MAX_CANDIDATES) throw new LookupIncomplete(`${candidates.length} keys are named ${name}; at most ${LOOKUP_MAX_CANDIDATES} are compared`);
    const found: string[] = [];
    for (const id of candidates) {
      let k: KeyResource;
      try {
        k = (await this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys/${enc(id)}`, idempotent: true, shape: standardKey })).resources[0];
      } catch (e) {
        if (e instanceof KpHttpError && (e.status === 404 || e.status === 410)) continue; // deleted since it was listed
        throw e;
      }
      if (!k.deleted && k.payload === payload) found.push(id);
    }
    return found;
  }

  /** Pages through GET keys with these parameters; the ids of keys named `name`. */
  private async scan(c: CallContext, q: Record<string, string>, name: string): Promise<string[]> {
    const ids: string[] = [];
    for (let offset = 0; ; offset += LOOKUP_PAGE) {
      if (offset >= LOOKUP_MAX_SCAN) throw new LookupIncomplete(`more than ${LOOKUP_MAX_SCAN} standard keys match the lookup for ${name}`);
      const params = new URLSearchParams({ ...q, extractable: 'true', limit: String(LOOKUP_PAGE), offset: String(offset) });
      const page = await this.kp.json<Collection>(c.credential, c.deadline, { method: 'GET', path: `keys?${params}`, idempotent: true, shape: keyList });
      for (const k of page.resources) if (k.name === name && !k.deleted) ids.push(k.id);
      if (page.resources.length < LOOKUP_PAGE) return ids;
    }
  }

  /**
   * Deletes copies of a standard key that an unclear attempt created: the
   * `extra` ids given, and (when only `keep` is given) whatever a lookup
   * finds besides `keep`. Never fails the seal: a copy that stays is logged
   * with its id.
   */
  private async dropCopies(c: CallContext, key: KeyContext, name: string, payload: string, since: number, keep: string[], extra?: string[]): Promise<void> {
    let copies = extra;
    if (copies === undefined) {
      try {
        copies = (await this.findStandardKeys(c, name, payload, since)).filter((id) => !keep.includes(id));
      } catch (e) {
        this.reportPossibleOrphan(c, key, name, since, `the check for copies after the create failed: ${describe(e)}`);
        return;
      }
    }
    for (const id of copies) {
      try {
        await this.kp.call(c.credential, c.deadline, { method: 'DELETE', path: `keys/${enc(id)}`, idempotent: true, prefer: 'return=minimal' });
        c.log.info({ instance: this.kp.target.instance, keyId: id, kept: keep[0], name, tenant: key.tenantId, uid: key.uid }, 'deleted a second copy of a standard key left by an unclear create');
      } catch (e) {
        c.log.warn({ instance: this.kp.target.instance, keyId: id, kept: keep[0], name, tenant: key.tenantId, uid: key.uid, err: describe(e) },
          `orphaned standard key: ${id} in ${this.service} instance ${this.kp.target.instance} is a second copy of ${keep[0]}, which ${name} uses; delete ${id}`);
      }
    }
  }

  /**
   * In the background, once an attempt given up on would have been processed
   * (twice the per-attempt timeout), deletes the copies of the key it may have
   * made. The seal does not wait for it.
   */
  private sweepLater(c: CallContext, key: KeyContext, name: string, payload: string, since: number, keep: string): void {
    const delay = 2 * this.kp.callTimeoutMs;
    const timer = setTimeout(() => {
      const later: CallContext = { ...c, deadline: Date.now() + 4 * this.kp.callTimeoutMs };
      void this.dropCopies(later, key, name, payload, since, [keep]);
    }, delay);
    timer.unref();
  }

  /** A standard key may exist that no reference names: say what to look for. */
  private reportPossibleOrphan(c: CallContext, key: KeyContext, name: string, since: number, why: string): void {
    c.log.warn({ instance: this.kp.target.instance, name, tenant: key.tenantId, uid: key.uid, createdFrom: new Date(since).toISOString(), createdUntil: new Date().toISOString(), why },
      `possibly orphaned standard key: a create of ${name} in ${this.service} instance ${this.kp.target.instance} had an unclear outcome (${why}); ` +
      `if a key of that name was created in this window and no KMIP object uses it, delete it`);
  }

  private async do<T>(c: CallContext, key: KeyContext | undefined, subject: Subject, id: string, doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.map(e, subject, key, id || c.crkId, doing);
    }
  }

  /** Provider failure → operator-readable WrappingError (docs/crk-wrapping.md, "Provider calls" and "Error mapping"). */
  private map(e: unknown, subject: Subject, key: KeyContext | undefined, id: string, doing: string): unknown {
    if (isWrappingError(e)) return e;
    const inst = `${this.service} instance ${this.kp.target.instance}`;
    const tenant = key ? `tenant ${key.tenantId}` : 'this tenant';
    const uid = key ? `KMIP object ${key.uid}` : 'this key';
    const err = (reason: Reason, message: string) => new WrappingError(reason, message, { cause: e });
    if (e instanceof NetworkError) return err('PROVIDER_UNAVAILABLE', `cannot reach ${this.service} at ${this.kp.host} to ${doing}: ${e.message}`);
    if (e instanceof MalformedAnswer) return err('PROVIDER_ERROR', `${this.service} at ${this.kp.host} gave an unusable answer to the request to ${doing}: it ${e.message}; nothing was stored from it`);
    if (e instanceof LookupIncomplete) return err('PROVIDER_ERROR', `could not ${doing}: ${e.message}`);
    if (!(e instanceof KpHttpError)) return e;
    const code = e.code ?? '';
    const what = `HTTP ${e.status}${code ? ` ${code}` : ''}`;
    if (subject === 'sealed' && (e.status === 404 || e.status === 410)) {
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
    // A ciphertext the service will not open: the AAD (tenant, uid) differs, or the ciphertext is damaged.
    // Key Protect answers 400 INVALID_FIELD_ERR on the ciphertext field; 422 UNPROCESSABLE_CIPHERTEXT_ERR is read the same.
    const refusedCiphertext = code === 'INVALID_FIELD_ERR' && (e.target === 'ciphertext' || (e.target === undefined && /ciphertext/i.test(e.reason ?? '')));
    if (((doing === UNWRAP || doing === REWRAP) && refusedCiphertext) || code === 'UNPROCESSABLE_CIPHERTEXT_ERR') {
      return err('AAD_MISMATCH', `${this.service} could not unwrap the key of ${uid} (${what}): the wrapped key is corrupted or bound to another tenant or uid (AAD mismatch)`);
    }
    if (subject === 'crk' && code === 'KEY_ACTION_INVALID_STATE_ERR') {
      return err('CRK_DISABLED', `root key ${id} in ${inst} is not active (disabled or expired): seal and unseal for ${tenant} are refused until it is enabled again`);
    }
    if (code === 'KEY_INVALID_STATE_ERR' || code === 'KEY_VERSION_INVALID' || code === 'KEY_ROOT_REQ_REG_ERR') {
      // error-messages.md: these concern registrations (root keys bound to cloud resources), which keywarden never makes.
      return err('PROVIDER_REJECTED', `${this.service} at ${this.kp.host} refused to ${doing} with ${code}, an error of registrations (root keys bound to cloud resources), which keywarden does not use (${what}${e.errorMsg ? `: ${e.errorMsg}` : ''})`);
    }
    if (code === 'KEY_CREATE_IMPORT_ACCESS_ERR') {
      return err('INSTANCE_POLICY', `the keyCreateImportAccess policy of ${inst} does not allow ${doing === 'create the root key' ? 'creating root keys' : 'importing standard keys'}: keywarden stores every wrapped key as an imported standard key (and creates root keys when asked); allow import_standard_key${doing === 'create the root key' ? ' and create_root_key' : ''} and turn enforce_token off in that policy, or use another instance`);
    }
    if (code === 'KEY_ROOT_REQ_ERR') return err('PROVIDER_REJECTED', `crk_id ${id} names a standard key in ${inst}, not a root key`);
    if (code === 'KEY_ROTATION_NOT_PERMITTED' || code === 'REQ_TOO_EARLY_ERR') return err('ROTATION_NOT_PERMITTED', `${this.service} refused to ${doing} ${id} now (${code}): it was changed too recently; try again later`);
    if (code === 'PROTECTED_RESOURCE_ERR') return err('CRK_PROTECTED', `root key ${id} protects registered cloud resources in ${inst}; delete with force to shred them too`);
    if (e.status === 401) return err('AUTH_FAILED', `${this.service} at ${this.kp.host} rejected a fresh IAM token for ${inst} (${what}): the API key's identity has no access to this instance, or the instance does not exist`);
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
