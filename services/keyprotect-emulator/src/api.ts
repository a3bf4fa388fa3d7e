import { randomBytes, randomUUID } from 'crypto';
import type { IncomingHttpHeaders } from 'http';
import { isBase64, latestVersion, unwrapWith, wrapWith } from './cipher';
import { invalidField, KpError } from './errors';
import { effectiveState, Instance, KEY_TYPE, KeyRecord, renderKey, RESTORE_WINDOW_MS, rfc3339, State, Store } from './store';

// The Key Protect v2 key calls of shared/keyprotect-api.md, one function per call.

export interface ApiRequest {
  method: string;
  /** Path segments after /api/v2. */
  path: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when the body was empty. */
  body: unknown;
  subject: string;
  inst: Instance;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Limits the real service enforces; off (0) unless configured, so tests can rotate freely. */
export interface Limits {
  /** Minimum seconds between two rotations of a root key (IBM: 3600). */
  rotationIntervalSeconds: number;
  /** Minimum seconds between an action and enable/restore (IBM: 30). */
  actionCooldownSeconds: number;
}

const MAX_STANDARD_PAYLOAD = 7500;
const MAX_AAD_CHARS = 255;
const DEFAULT_LIST_STATES = [State.PreActive, State.Active, State.Suspended, State.Deactivated];

export class Api {
  constructor(private readonly store: Store, private readonly limits: Limits) {}

  handle(req: ApiRequest): ApiResponse {
    const [top, id, sub, action] = req.path;
    if (top !== 'keys') throw new KpError('KEY_NOT_FOUND_ERR', 'Resource could not be found', 'The requested resource does not exist');
    const m = req.method;
    if (id === undefined) {
      if (m === 'POST') return this.create(req);
      if (m === 'GET') return this.list(req, false);
      if (m === 'HEAD') return this.list(req, true);
    } else if (sub === undefined) {
      if (m === 'GET') return this.get(req, id, true);
      if (m === 'DELETE') return this.delete(req, id);
      // Older clients send actions as POST keys/<id>?action=<name>.
      if (m === 'POST' && req.query.get('action')) return this.action(req, id, req.query.get('action') ?? '');
    } else if (action === undefined) {
      if (sub === 'metadata' && m === 'GET') return this.get(req, id, false);
      if (sub === 'purge' && m === 'DELETE') return this.purge(req, id);
      if (sub === 'restore' && m === 'POST') return this.restore(req, id);
    } else if (sub === 'actions' && m === 'POST' && req.path.length === 4) {
      return this.action(req, id, action);
    }
    throw new KpError('KEY_NOT_FOUND_ERR', 'Resource could not be found', `No route for ${m} /api/v2/${req.path.join('/')}`);
  }

  private create(req: ApiRequest): ApiResponse {
    const what = 'Key could not be created';
    const body = req.body as { metadata?: { collectionType?: unknown; collectionTotal?: unknown }; resources?: unknown } | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badBody(what, 'a key collection is required');
    if (!body.metadata || Object.keys(body.metadata).length === 0) throw badBody(what, 'CollectionMetadata is empty');
    if (body.metadata.collectionType !== KEY_TYPE) throw invalidField(what, 'metadata.collectionType', KEY_TYPE);
    if (!Array.isArray(body.resources)) throw badBody(what, 'resources is required');
    if (body.metadata.collectionTotal !== body.resources.length) throw new KpError('COLLECTION_TOTAL_MISMATCH_ERR', what);
    if (body.resources.length !== 1) throw badBody(what, 'Only creation of one key per request is supported');
    const r = body.resources[0] as Record<string, unknown>;
    if (typeof r !== 'object' || r === null) throw badBody(what, 'a key resource must be an object');
    if (r.type !== undefined && r.type !== KEY_TYPE) throw invalidField(what, 'type', KEY_TYPE);
    if (typeof r.name !== 'string' || r.name.length < 2 || r.name.length > 90) throw invalidField(what, 'name', 'a string of 2 to 90 characters');
    if (r.description !== undefined && (typeof r.description !== 'string' || r.description.length > 240)) {
      throw invalidField(what, 'description', 'a string of at most 240 characters');
    }
    if (r.extractable !== undefined && typeof r.extractable !== 'boolean') throw invalidField(what, 'extractable', 'a boolean');
    const extractable = r.extractable ?? true;
    const aliases = r.aliases ?? [];
    if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string' || !/^[A-Za-z0-9_-]{2,90}$/.test(a) || this.store.find(req.inst, a))) {
      throw invalidField(what, 'aliases', 'unique names of 2 to 90 letters, digits, "-" or "_"');
    }
    let expirationDate: string | undefined;
    if (r.expirationDate !== undefined) {
      if (typeof r.expirationDate !== 'string' || Number.isNaN(Date.parse(r.expirationDate))) throw invalidField(what, 'expirationDate', 'an RFC 3339 date');
      expirationDate = rfc3339(Date.parse(r.expirationDate));
    }
    let material: Buffer | undefined;
    if (r.payload !== undefined) {
      if (typeof r.payload !== 'string' || !isBase64(r.payload) || r.payload.length === 0) throw invalidField(what, 'payload', 'a base64 encoded key material');
      material = Buffer.from(r.payload, 'base64');
      if (extractable && material.length > MAX_STANDARD_PAYLOAD) throw invalidField(what, 'payload', `at most ${MAX_STANDARD_PAYLOAD} bytes`);
      if (!extractable && ![16, 24, 32].includes(material.length)) throw invalidField(what, 'payload', 'a 128, 192 or 256-bit key');
    }
    const now = rfc3339();
    const k: KeyRecord = {
      id: randomUUID(),
      name: r.name,
      description: r.description as string | undefined,
      aliases: aliases as string[],
      extractable,
      state: State.Active,
      payload: extractable ? (material ?? randomBytes(32)) : undefined,
      versions: extractable ? [] : [{ id: randomUUID(), material: material ?? randomBytes(32), creationDate: now }],
      imported: material !== undefined,
      createdBy: req.subject,
      creationDate: now,
      lastUpdateDate: now,
      expirationDate,
      deleted: false,
      lastActionAt: 0,
    };
    req.inst.keys.set(k.id, k);
    this.store.changed(req.inst, k.id);
    const full = renderKey(req.inst.id, k);
    const out = prefersRepresentation(req) ? full : pick(full, ['type', 'id', 'name', 'description', 'state', 'expirationDate', 'extractable', 'crn', 'imported', 'deleted']);
    return { status: 201, body: collection([out]) };
  }

  private list(req: ApiRequest, headOnly: boolean): ApiResponse {
    const what = 'Keys could not be listed';
    const limit = intParam(req.query, 'limit', 200, 1, 5000, what);
    const offset = intParam(req.query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, what);
    let states: number[] = DEFAULT_LIST_STATES;
    const stateParam = req.query.get('state');
    if (stateParam) {
      states = stateParam.split(',').map((s) => Number(s.trim()));
      if (states.some((s) => ![0, 1, 2, 3, 5].includes(s))) throw invalidField(what, 'state', 'a comma-separated list of 0, 1, 2, 3 and 5');
    }
    const ex = req.query.get('extractable');
    if (ex !== null && ex !== 'true' && ex !== 'false') throw invalidField(what, 'extractable', 'true or false');
    const search = req.query.get('search');
    const match = search ? searchFilter(search) : () => true;
    // Searches scan at most 5,000 keys, as the service does.
    const candidates = [...req.inst.keys.values()].slice(0, search ? 5000 : undefined);
    const all = candidates.filter((k) => states.includes(effectiveState(k)) && (ex === null || String(k.extractable) === ex) && match(k));
    if (headOnly) return { status: 200, headers: { 'key-total': String(all.length) } };
    const page = all.slice(offset, offset + limit).map((k) => renderKey(req.inst.id, k));
    return { status: 200, body: collection(page) };
  }

  private key(req: ApiRequest, id: string, what: string, allowDeleted = false): KeyRecord {
    const k = this.store.find(req.inst, id);
    if (!k) throw new KpError('KEY_NOT_FOUND_ERR', what);
    if (k.deleted && !allowDeleted) throw new KpError('KEY_DELETED_ERR', what);
    return k;
  }

  private get(req: ApiRequest, id: string, withPayload: boolean): ApiResponse {
    // The payload is gone with a deleted key (410); its metadata still reads (state 5).
    const k = this.key(req, id, 'Key could not be retrieved', !withPayload);
    return { status: 200, body: collection([renderKey(req.inst.id, k, withPayload)]) };
  }

  private delete(req: ApiRequest, id: string): ApiResponse {
    const k = this.key(req, id, 'Key could not be deleted');
    const now = Date.now();
    k.deleted = true;
    k.state = State.Destroyed;
    k.deletedBy = req.subject;
    k.deletionDate = rfc3339(now);
    k.lastUpdateDate = k.deletionDate;
    k.lastActionAt = now;
    this.store.changed(req.inst, k.id);
    if (prefersRepresentation(req)) return { status: 200, body: collection([renderKey(req.inst.id, k)]) };
    return { status: 204 };
  }

  private purge(req: ApiRequest, id: string): ApiResponse {
    const what = 'Key could not be purged';
    const k = this.key(req, id, what, true);
    if (!k.deleted) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
    req.inst.keys.delete(k.id);
    this.store.changed(req.inst, k.id);
    return { status: 200, body: collection([renderKey(req.inst.id, k)]) };
  }

  private restore(req: ApiRequest, id: string): ApiResponse {
    const what = 'Key could not be restored';
    const k = this.key(req, id, what, true);
    if (k.extractable) throw new KpError('KEY_ROOT_REQ_ERR', what);
    if (!k.deleted) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
    const now = Date.now();
    if (now - Date.parse(k.deletionDate ?? rfc3339()) > RESTORE_WINDOW_MS) throw new KpError('KEY_RESTORE_EXPIRED', what);
    this.cooldown(k, what, now);
    k.deleted = false;
    k.state = State.Active;
    k.deletedBy = undefined;
    k.deletionDate = undefined;
    k.lastUpdateDate = rfc3339(now);
    k.lastActionAt = now;
    this.store.changed(req.inst, k.id);
    return { status: 201, body: collection([renderKey(req.inst.id, k)]) };
  }

  private action(req: ApiRequest, id: string, action: string): ApiResponse {
    const what = ACTION_WHAT[action];
    if (!what) throw invalidField('Action could not be performed on key', 'action', 'one of wrap, unwrap, rewrap, rotate, disable, enable');
    const k = this.key(req, id, what);
    if (k.extractable) throw new KpError('KEY_ROOT_REQ_ERR', what);
    const state = effectiveState(k);
    const now = Date.now();
    switch (action) {
      case 'wrap': {
        if (state !== State.Active) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        const body = actionBody(req.body, what);
        const aad = aadOf(body, what);
        let plaintext: Buffer | undefined;
        if (body.plaintext !== undefined && body.plaintext !== '') {
          if (typeof body.plaintext !== 'string' || !isBase64(body.plaintext)) throw invalidField(what, 'plaintext', 'a base64 encoded key material');
          plaintext = Buffer.from(body.plaintext, 'base64');
          if (plaintext.length > MAX_STANDARD_PAYLOAD) throw invalidField(what, 'plaintext', `at most ${MAX_STANDARD_PAYLOAD} bytes`);
        }
        const generated = plaintext === undefined;
        const pt = plaintext ?? randomBytes(32);
        const v = latestVersion(k);
        return {
          status: 200,
          body: { ciphertext: wrapWith(k, v, pt, aad), keyVersion: { id: v.id }, ...(generated ? { plaintext: pt.toString('base64') } : {}) },
        };
      }
      case 'unwrap':
      case 'rewrap': {
        if (state !== State.Active && state !== State.Deactivated) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        if (req.body === undefined || req.body === null) throw new KpError('NO_BODY_ERR', what);
        const body = actionBody(req.body, what);
        const aad = aadOf(body, what);
        const mustBe = 'the original base64 encoded ciphertext from the wrap operation';
        if (typeof body.ciphertext !== 'string' || body.ciphertext === '' || !isBase64(body.ciphertext)) throw invalidField(what, 'ciphertext', mustBe);
        const opened = unwrapWith(k, body.ciphertext, aad);
        if (typeof opened === 'string') throw new KpError('UNPROCESSABLE_CIPHERTEXT_ERR', what);
        const latest = latestVersion(k);
        if (action === 'rewrap') {
          return { status: 200, body: { ciphertext: wrapWith(k, latest, opened.plaintext, aad), keyVersion: { id: opened.version.id }, rewrappedKeyVersion: { id: latest.id } } };
        }
        const out: Record<string, unknown> = { plaintext: opened.plaintext.toString('base64'), keyVersion: { id: opened.version.id } };
        if (opened.version.id !== latest.id) {
          out.ciphertext = wrapWith(k, latest, opened.plaintext, aad);
          out.rewrappedKeyVersion = { id: latest.id };
        }
        return { status: 200, body: out };
      }
      case 'rotate': {
        if (state !== State.Active) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        if (this.limits.rotationIntervalSeconds > 0 && k.lastRotateDate && now - Date.parse(k.lastRotateDate) < this.limits.rotationIntervalSeconds * 1000) {
          throw new KpError('KEY_ROTATION_NOT_PERMITTED', what);
        }
        const body = actionBody(req.body, what);
        let material: Buffer;
        if (body.payload !== undefined) {
          if (typeof body.payload !== 'string' || !isBase64(body.payload)) throw invalidField(what, 'payload', 'a base64 encoded key material');
          material = Buffer.from(body.payload, 'base64');
          if (![16, 24, 32].includes(material.length)) throw invalidField(what, 'payload', 'a 128, 192 or 256-bit key');
        } else {
          if (k.imported) throw new KpError('KEY_PAYLOAD_REQ_ERR', what, undefined, { type: 'field', name: 'payload' });
          material = randomBytes(32);
        }
        const date = rfc3339(now);
        k.versions.push({ id: randomUUID(), material, creationDate: date });
        k.lastRotateDate = date;
        k.lastUpdateDate = date;
        k.lastActionAt = now;
        this.store.changed(req.inst, k.id);
        return { status: 204 };
      }
      case 'disable': {
        if (state !== State.Active) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        k.state = State.Suspended;
        k.lastUpdateDate = rfc3339(now);
        k.lastActionAt = now;
        this.store.changed(req.inst, k.id);
        return { status: 204 };
      }
      default: {
        // enable
        if (k.state !== State.Suspended) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        this.cooldown(k, what, now);
        k.state = State.Active;
        k.lastUpdateDate = rfc3339(now);
        k.lastActionAt = now;
        this.store.changed(req.inst, k.id);
        return { status: 204 };
      }
    }
  }

  private cooldown(k: KeyRecord, what: string, now: number): void {
    if (this.limits.actionCooldownSeconds > 0 && now - k.lastActionAt < this.limits.actionCooldownSeconds * 1000) {
      throw new KpError('REQ_TOO_EARLY_ERR', what);
    }
  }
}

const ACTION_WHAT: Record<string, string> = {
  wrap: 'Wrap with key could not be performed',
  unwrap: 'Unwrap with key could not be performed',
  rewrap: 'Rewrap with key could not be performed',
  rotate: 'Action could not be performed on key',
  disable: 'Key could not be disabled',
  enable: 'Key could not be enabled',
};

function badBody(what: string, detail: string): KpError {
  return new KpError('BAD_BODY_ERR', what, `Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters: ${detail}`);
}

/** Action bodies are flat objects; clients may send nothing or `null`. */
function actionBody(body: unknown, what: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badBody(what, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function aadOf(body: Record<string, unknown>, what: string): string[] {
  const aad = body.aad ?? [];
  if (!Array.isArray(aad) || aad.some((a) => typeof a !== 'string' || a.length > MAX_AAD_CHARS)) {
    throw invalidField(what, 'aad', `an array of strings of at most ${MAX_AAD_CHARS} characters each`);
  }
  return aad as string[];
}

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number, what: string): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw invalidField(what, name, `an integer between ${min} and ${max}`);
  return n;
}

/**
 * The `search` query: optional prefixes not:, escape:, exact:, name:, alias:
 * before the term; a partial, case-insensitive match on name and aliases by default.
 */
export function searchFilter(search: string): (k: KeyRecord) => boolean {
  let rest = search;
  let negate = false;
  let exact = false;
  let scopeName = false;
  let scopeAlias = false;
  for (;;) {
    const m = /^(not|escape|exact|name|alias):/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    if (m[1] === 'escape') break;
    if (m[1] === 'not') negate = true;
    if (m[1] === 'exact') exact = true;
    if (m[1] === 'name') scopeName = true;
    if (m[1] === 'alias') scopeAlias = true;
  }
  if (!scopeName && !scopeAlias) scopeName = scopeAlias = true;
  const term = rest;
  const lower = term.toLowerCase();
  const hit = (s: string) => (exact ? s === term : s.toLowerCase().includes(lower));
  return (k) => {
    const found = (scopeName && hit(k.name)) || (scopeAlias && k.aliases.some(hit));
    return negate ? !found : found;
  };
}

function prefersRepresentation(req: ApiRequest): boolean {
  return /return=representation/i.test(String(req.headers.prefer ?? ''));
}

function collection(resources: unknown[]): object {
  return { metadata: { collectionType: KEY_TYPE, collectionTotal: resources.length }, resources };
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
