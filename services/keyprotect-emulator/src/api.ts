import { randomBytes, randomUUID } from 'crypto';
import type { IncomingHttpHeaders } from 'http';
import { isBase64, latestVersion, unwrapWith, wrapWith } from './cipher';
import { invalidField, KpError, UnsupportedMediaType } from './errors';
import { effectiveState, Instance, KEY_TYPE, KeyCreateImportAccess, KeyRecord, renderKey, RESTORE_WINDOW_MS, rfc3339, State, Store } from './store';

// The Key Protect v2 calls of docs/keyprotect-api.md, one function per call,
// as strict as IBM documents them (error-messages.md and the per-call pages);
// where IBM documents nothing, docs/keyprotect-api.md says what the emulator
// answers.

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

/** Limits the real service enforces; on by default (IBM's values), 0 switches one off for tests that need it. */
export interface Limits {
  /** Minimum seconds between two rotations of a root key (IBM: 3600). */
  rotationIntervalSeconds: number;
  /** Minimum seconds between a key's last action and enable/restore (IBM: 30). */
  actionCooldownSeconds: number;
}

export const IBM_LIMITS: Limits = { rotationIntervalSeconds: 3600, actionCooldownSeconds: 30 };

/**
 * What the service does with what IBM documents for Key Protect but not for
 * Hyper Protect Crypto Services (AAD, `search`, `filter`), and which of the
 * two documented answers a failed unwrap gets. The defaults are Key
 * Protect's; the other values let tests play an HPCS instance that ignores
 * or refuses them.
 */
export interface Dialect {
  /** `aad` of wrap/unwrap/rewrap: authenticated (Key Protect), ignored, or refused as an unknown field. */
  aad: 'bound' | 'ignored' | 'refused';
  /** The `search` query parameter of GET keys. */
  search: 'supported' | 'ignored' | 'refused';
  /** The `filter` query parameter of GET keys. */
  filter: 'supported' | 'ignored' | 'refused';
  /** A ciphertext that does not open (wrong AAD, corrupted): 400 INVALID_FIELD_ERR, as the service answers, or 422 UNPROCESSABLE_CIPHERTEXT_ERR. */
  aadMismatch: 'invalid-field' | 'unprocessable';
}

export const KEY_PROTECT: Dialect = { aad: 'bound', search: 'supported', filter: 'supported', aadMismatch: 'invalid-field' };

const MAX_STANDARD_PAYLOAD = 7500;
const MAX_AAD_CHARS = 255;
const DEFAULT_LIST_STATES = [State.PreActive, State.Active, State.Suspended, State.Deactivated];
/** view-keys.md: a search fails over more than 5,000 keys unless it exactly matches a key ID or alias. */
export const SEARCH_VOLUME = 5000;
/** create-key-alias.md: five aliases a key, 1,000 an instance. */
const ALIASES_PER_KEY = 5;
export const ALIASES_PER_INSTANCE = 1000;
const ALIAS = /^[A-Za-z0-9_-]{2,90}$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const RESERVED_ALIASES = new Set(['allowed_ip', 'key', 'keys', 'metadata', 'policy', 'policies', 'registration', 'registrations', 'ring', 'rings', 'rotate', 'wrap', 'unwrap', 'rewrap', 'version', 'versions']);
const POLICY_TYPE = 'application/vnd.ibm.kms.policy+json';

/** The fields each body may carry; anything else is BAD_BODY_ERR `json: unknown field "x"` (error-messages.md, BAD_BODY_ERR example 1). */
const FIELDS = {
  collection: ['metadata', 'resources'],
  metadata: ['collectionType', 'collectionTotal'],
  key: ['type', 'name', 'description', 'expirationDate', 'extractable', 'payload', 'aliases', 'encryptedNonce', 'iv', 'encryptionAlgorithm'],
  wrap: ['plaintext', 'aad'],
  unwrap: ['ciphertext', 'aad'],
  rewrap: ['ciphertext', 'aad'],
  rotate: ['payload', 'encryptedNonce', 'iv', 'encryptionAlgorithm'],
  disable: [],
  enable: [],
  policy: ['policy_type', 'policy_data'],
  policyData: ['enabled', 'attributes'],
  policyAttributes: ['create_root_key', 'create_standard_key', 'import_root_key', 'import_standard_key', 'enforce_token'],
} as const;

export class Api {
  constructor(private readonly store: Store, private readonly limits: Limits, private readonly dialect: Dialect = KEY_PROTECT) {}

  handle(req: ApiRequest): ApiResponse {
    const [top, id, sub, action] = req.path;
    const m = req.method;
    if (top === 'instance' && id === 'policies' && sub === undefined && m === 'PUT') return this.putPolicy(req);
    if (top !== 'keys') throw new KpError('KEY_NOT_FOUND_ERR', 'Resource could not be found', 'The requested resource does not exist');
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
    contentType(req, 'key');
    const body = req.body as { metadata?: { collectionType?: unknown; collectionTotal?: unknown }; resources?: unknown } | undefined;
    if (body === undefined) throw new KpError('NO_BODY_ERR', what);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badBody(what, 'a key collection is required');
    onlyFields(body, FIELDS.collection, what);
    if (typeof body.metadata !== 'object' || body.metadata === null || Object.keys(body.metadata).length === 0) throw badBody(what, 'CollectionMetadata is empty');
    onlyFields(body.metadata, FIELDS.metadata, what);
    if (body.metadata.collectionType !== KEY_TYPE) throw invalidField(what, 'metadata.collectionType', KEY_TYPE);
    if (!Array.isArray(body.resources)) throw badBody(what, 'resources is required');
    if (body.metadata.collectionTotal !== body.resources.length) throw new KpError('COLLECTION_TOTAL_MISMATCH_ERR', what);
    if (body.resources.length !== 1) throw badBody(what, 'Only creation of one key per request is supported');
    const r = body.resources[0] as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw badBody(what, 'a key resource must be an object');
    onlyFields(r, FIELDS.key, what);
    if (r.type !== undefined && r.type !== KEY_TYPE) throw invalidField(what, 'type', KEY_TYPE);
    if (typeof r.name !== 'string' || r.name.length < 2 || r.name.length > 90) throw invalidField(what, 'name', 'a string of 2 to 90 characters');
    if (r.description !== undefined && (typeof r.description !== 'string' || r.description.length < 2 || r.description.length > 240)) {
      throw invalidField(what, 'description', 'a string of 2 to 240 characters');
    }
    if (r.extractable !== undefined && typeof r.extractable !== 'boolean') throw invalidField(what, 'extractable', 'a boolean');
    if (r.encryptedNonce !== undefined || r.iv !== undefined || r.encryptionAlgorithm !== undefined) {
      throw invalidField(what, 'encryptedNonce', 'absent: secure import is not emulated');
    }
    // IBM's generated SDK models document the default: true (a standard key).
    const extractable = r.extractable ?? true;
    const aliases = this.aliases(req.inst, r.aliases, what);
    let expirationDate: string | undefined;
    if (r.expirationDate !== undefined) {
      if (typeof r.expirationDate !== 'string' || Number.isNaN(Date.parse(r.expirationDate))) throw invalidField(what, 'expirationDate', 'an RFC 3339 date');
      expirationDate = rfc3339(Date.parse(r.expirationDate));
    }
    let material: Buffer | undefined;
    if (r.payload !== undefined) {
      // error-messages.md, BAD_BODY_ERR: "Key has zero value or it's empty".
      if (r.payload === '') throw badBody(what, 'Key has zero value or it is empty');
      if (typeof r.payload !== 'string' || !isBase64(r.payload)) throw invalidField(what, 'payload', 'a base64 encoded key material');
      material = Buffer.from(r.payload, 'base64');
      if (extractable && material.length > MAX_STANDARD_PAYLOAD) throw invalidField(what, 'payload', `at most ${MAX_STANDARD_PAYLOAD} bytes`);
      if (!extractable && ![16, 24, 32].includes(material.length)) throw invalidField(what, 'payload', 'a 128, 192 or 256-bit key');
    }
    this.checkPolicy(req.inst, extractable, material !== undefined, what);
    const k = newKey({ name: r.name, description: r.description as string | undefined, aliases, extractable, material, expirationDate, createdBy: req.subject });
    req.inst.keys.set(k.id, k);
    this.store.changed(req.inst, k.id);
    const full = renderKey(req.inst.id, k);
    const out = prefersRepresentation(req) ? full : pick(full, ['type', 'id', 'name', 'description', 'state', 'expirationDate', 'extractable', 'crn', 'imported', 'deleted']);
    return { status: 201, body: collection([out]) };
  }

  /** create-key-alias.md: 2–90 of letters, digits, "-", "_"; not a UUID, not reserved; five a key, unique and 1,000 an instance. */
  private aliases(inst: Instance, raw: unknown, what: string): string[] {
    if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return [];
    const mustBe = `at most ${ALIASES_PER_KEY} unique aliases of 2 to 90 letters, digits, "-" or "_", neither a UUID nor a reserved name`;
    if (!Array.isArray(raw) || raw.length > ALIASES_PER_KEY) throw invalidField(what, 'aliases', mustBe);
    const seen = new Set<string>();
    for (const a of raw) {
      if (typeof a !== 'string' || !ALIAS.test(a) || UUID_V4.test(a) || RESERVED_ALIASES.has(a) || seen.has(a) || this.store.find(inst, a)) {
        throw invalidField(what, 'aliases', mustBe);
      }
      seen.add(a);
    }
    let total = 0;
    for (const k of inst.keys.values()) total += k.aliases.length;
    if (total + raw.length > ALIASES_PER_INSTANCE) {
      throw invalidField(what, 'aliases', `within the instance's limit of ${ALIASES_PER_INSTANCE} aliases (it has ${total})`);
    }
    return raw as string[];
  }

  /** error-messages.md, KEY_CREATE_IMPORT_ACCESS_ERR: the instance policy decides which keys may be created or imported. */
  private checkPolicy(inst: Instance, extractable: boolean, imported: boolean, what: string): void {
    const p = inst.policy;
    if (!p?.enabled) return;
    const allowed = extractable
      ? (imported ? p.import_standard_key : p.create_standard_key)
      : (imported ? p.import_root_key : p.create_root_key);
    // enforce_token: every import must use secure import, which the emulator does not offer.
    if (!allowed || (imported && p.enforce_token)) throw new KpError('KEY_CREATE_IMPORT_ACCESS_ERR', what);
  }

  /** PUT instance/policies?policy=keyCreateImportAccess (settings-key-create-import-access.md); other policies are not emulated. */
  private putPolicy(req: ApiRequest): ApiResponse {
    const what = 'Instance policy could not be created';
    contentType(req, 'policy');
    if (req.query.get('policy') !== 'keyCreateImportAccess') throw invalidField(what, 'policy', 'keyCreateImportAccess (the only instance policy the emulator has)');
    const body = req.body as { metadata?: { collectionType?: unknown; collectionTotal?: unknown }; resources?: unknown } | undefined;
    if (body === undefined) throw new KpError('NO_BODY_ERR', what);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badBody(what, 'a policy collection is required');
    onlyFields(body, FIELDS.collection, what);
    if (typeof body.metadata !== 'object' || body.metadata === null) throw badBody(what, 'CollectionMetadata is empty');
    onlyFields(body.metadata, FIELDS.metadata, what);
    if (body.metadata.collectionType !== POLICY_TYPE) throw invalidField(what, 'metadata.collectionType', POLICY_TYPE);
    if (!Array.isArray(body.resources) || body.resources.length === 0) throw badBody(what, 'No resources section was provided');
    if (body.metadata.collectionTotal !== body.resources.length) throw new KpError('COLLECTION_TOTAL_MISMATCH_ERR', what);
    const r = body.resources[0] as { policy_type?: unknown; policy_data?: { enabled?: unknown; attributes?: Record<string, unknown> } };
    onlyFields(r, FIELDS.policy, what);
    if (r.policy_type !== 'keyCreateImportAccess') throw new KpError('BODY_QUERY_PARAM_MISMATCH_ERR', what);
    if (typeof r.policy_data !== 'object' || r.policy_data === null) throw badBody(what, 'policy_data is required');
    onlyFields(r.policy_data, FIELDS.policyData, what);
    if (typeof r.policy_data.enabled !== 'boolean') throw invalidField(what, 'policy_data.enabled', 'a boolean');
    const a = r.policy_data.attributes ?? {};
    onlyFields(a, FIELDS.policyAttributes, what);
    const flag = (k: keyof KeyCreateImportAccess, fallback: boolean): boolean => {
      const v = a[k];
      if (v === undefined) return fallback;
      if (typeof v !== 'boolean') throw invalidField(what, `policy_data.attributes.${k}`, 'a boolean');
      return v;
    };
    const policy: KeyCreateImportAccess = {
      enabled: r.policy_data.enabled,
      create_root_key: flag('create_root_key', true),
      create_standard_key: flag('create_standard_key', true),
      import_root_key: flag('import_root_key', true),
      import_standard_key: flag('import_standard_key', true),
      enforce_token: flag('enforce_token', false),
    };
    this.store.setPolicy(req.inst, policy.enabled ? policy : undefined);
    return { status: 204 };
  }

  private list(req: ApiRequest, headOnly: boolean): ApiResponse {
    const what = 'Keys could not be retrieved';
    const limit = intParam(req.query, 'limit', 200, 1, 5000, what);
    const offset = intParam(req.query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, what);
    let states: number[] = DEFAULT_LIST_STATES;
    const stateParam = req.query.get('state');
    if (stateParam) {
      if (!/^\d(,\d)*$/.test(stateParam)) throw invalidQuery(what, 'state', 'a comma-separated list of 0, 1, 2, 3 and 5 without spaces');
      states = stateParam.split(',').map(Number);
      if (states.some((s) => ![0, 1, 2, 3, 5].includes(s))) throw invalidQuery(what, 'state', 'a comma-separated list of 0, 1, 2, 3 and 5 without spaces');
    }
    const ex = req.query.get('extractable');
    if (ex !== null && ex !== 'true' && ex !== 'false') throw invalidQuery(what, 'extractable', 'true or false');
    const filterParam = this.dialectParam(req.query.get('filter'), this.dialect.filter, 'filter', what);
    const filter = filterParam === undefined ? () => true : parseFilter(filterParam, what);
    const searchParam = this.dialectParam(req.query.get('search'), this.dialect.search, 'search', what);
    let keys = [...req.inst.keys.values()].filter((k) => states.includes(effectiveState(k)) && (ex === null || String(k.extractable) === ex) && filter(k));
    if (searchParam !== undefined) {
      const search = parseSearch(searchParam);
      if (keys.length > SEARCH_VOLUME) {
        // Only an exact key ID or alias still answers (view-keys.md).
        const exactly = this.store.find(req.inst, search.term);
        if (!exactly || search.negate) {
          throw invalidQuery(what, 'search', `narrowed to at most ${SEARCH_VOLUME} keys (with filter, state or extractable) or an exact key ID or alias; it would search ${keys.length} keys`);
        }
        keys = keys.filter((k) => k === exactly);
      }
      keys = keys.filter(search.match);
    }
    if (headOnly) return { status: 200, headers: { 'key-total': String(keys.length) } };
    const page = keys.slice(offset, offset + limit).map((k) => renderKey(req.inst.id, k));
    return { status: 200, body: collection(page) };
  }

  /** A query parameter HPCS does not document: used, ignored or refused as the dialect says. */
  private dialectParam(v: string | null, mode: 'supported' | 'ignored' | 'refused', name: string, what: string): string | undefined {
    if (v === null || mode === 'ignored') return undefined;
    if (mode === 'refused') throw invalidQuery(what, name, 'absent: this service does not support it');
    return v;
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
    contentType(req, 'key_action');
    const k = this.key(req, id, what);
    if (k.extractable) throw new KpError('KEY_ROOT_REQ_ERR', what);
    const state = effectiveState(k);
    const now = Date.now();
    switch (action) {
      case 'wrap': {
        if (state !== State.Active) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        const body = actionBody(req.body, FIELDS.wrap, what);
        const aad = this.aadOf(body, what);
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
        const body = actionBody(req.body, FIELDS[action], what);
        const aad = this.aadOf(body, what);
        const mustBe = 'the original base64 encoded ciphertext from the wrap operation';
        if (typeof body.ciphertext !== 'string' || body.ciphertext === '' || !isBase64(body.ciphertext)) throw invalidField(what, 'ciphertext', mustBe);
        const opened = unwrapWith(k, body.ciphertext, aad);
        if (typeof opened === 'string') {
          // The service's answer to a wrong AAD or a damaged ciphertext (docs/keyprotect-api.md, "AAD").
          if (this.dialect.aadMismatch === 'unprocessable') throw new KpError('UNPROCESSABLE_CIPHERTEXT_ERR', what);
          throw invalidField(what, 'ciphertext', mustBe);
        }
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
        const body = actionBody(req.body, FIELDS.rotate, what);
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
        actionBody(req.body, FIELDS.disable, what);
        if (state !== State.Active) throw new KpError('KEY_ACTION_INVALID_STATE_ERR', what);
        k.state = State.Suspended;
        k.lastUpdateDate = rfc3339(now);
        k.lastActionAt = now;
        this.store.changed(req.inst, k.id);
        return { status: 204 };
      }
      default: {
        // enable
        actionBody(req.body, FIELDS.enable, what);
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

  /** error-messages.md, REQ_TOO_EARLY_ERR: enable and restore wait 30 s after the key's last action. */
  private cooldown(k: KeyRecord, what: string, now: number): void {
    if (this.limits.actionCooldownSeconds > 0 && now - k.lastActionAt < this.limits.actionCooldownSeconds * 1000) {
      throw new KpError('REQ_TOO_EARLY_ERR', what);
    }
  }

  private aadOf(body: Record<string, unknown>, what: string): string[] {
    if (body.aad !== undefined && this.dialect.aad === 'refused') throw badBody(what, 'json: unknown field "aad"');
    const aad = body.aad ?? [];
    if (!Array.isArray(aad) || aad.some((a) => typeof a !== 'string' || a.length > MAX_AAD_CHARS)) {
      throw invalidField(what, 'aad', `an array of strings of at most ${MAX_AAD_CHARS} characters each`);
    }
    return this.dialect.aad === 'ignored' ? [] : aad as string[];
  }
}

/** A new key record; the emulator's seeding fast path builds keys the same way. */
export function newKey(o: {
  name: string; description?: string; aliases?: string[]; extractable: boolean; material?: Buffer; expirationDate?: string; createdBy: string; createdAt?: number;
}): KeyRecord {
  const now = rfc3339(o.createdAt);
  return {
    id: randomUUID(),
    name: o.name,
    description: o.description,
    aliases: o.aliases ?? [],
    extractable: o.extractable,
    state: State.Active,
    payload: o.extractable ? (o.material ?? randomBytes(32)) : undefined,
    versions: o.extractable ? [] : [{ id: randomUUID(), material: o.material ?? randomBytes(32), creationDate: now }],
    imported: o.material !== undefined,
    createdBy: o.createdBy,
    creationDate: now,
    lastUpdateDate: now,
    expirationDate: o.expirationDate,
    deleted: false,
    lastActionAt: o.createdAt ?? Date.now(),
  };
}

const ACTION_WHAT: Record<string, string> = {
  wrap: 'Wrap with key could not be performed',
  unwrap: 'Unwrap with key could not be performed',
  rewrap: 'Rewrap with key could not be performed',
  rotate: 'Action could not be performed on key',
  disable: 'Key could not be disabled',
  enable: 'Key could not be enabled',
};

/** The JSON media types each call reads (the -H "content-type" of its page); absent is accepted, as IBM's Go client sends none. */
function contentType(req: ApiRequest, kind: 'key' | 'key_action' | 'policy'): void {
  if (req.body === undefined) return;
  const v = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (v === '' || v === 'application/json' || v === `application/vnd.ibm.kms.${kind}+json`) return;
  throw new UnsupportedMediaType(`this call reads application/vnd.ibm.kms.${kind}+json (or application/json), not ${v}`);
}

function badBody(what: string, detail: string): KpError {
  return new KpError('BAD_BODY_ERR', what, `Invalid body data was passed: Please ensure the data passed had valid formatting with no invalid characters: ${detail}`);
}

function invalidQuery(what: string, param: string, mustBe: string): KpError {
  return new KpError('INVALID_QUERY_PARAM_ERR', what, `The query_param '${param}' must be: ${mustBe}`, { type: 'query_param', name: param });
}

/** Refuses a field the body type does not have, as the service's JSON decoder does. */
function onlyFields(o: object, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw badBody(what, `json: unknown field "${k}"`);
}

/** Action bodies are flat objects of the action's fields; clients may send nothing or `null`. */
function actionBody(body: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badBody(what, 'the body must be a JSON object');
  onlyFields(body, allowed, what);
  return body as Record<string, unknown>;
}

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number, what: string): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw invalidQuery(what, name, `an integer between ${min} and ${max}`);
  return n;
}

/**
 * The `search` query (view-keys.md): prefixes `not:`, `name:`, `alias:` in
 * any order, then optionally `exact:` or `escape:`, after which the rest is
 * the term, taken literally (`exact:not:foo` looks for "not:foo"; the scope
 * goes first: `name:exact:foo`). Without `exact:` a case-insensitive partial
 * match; without a scope, names and aliases; a term that is a key's id
 * matches that key.
 */
export function parseSearch(search: string): { term: string; negate: boolean; match: (k: KeyRecord) => boolean } {
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
    if (m[1] === 'exact') {
      exact = true;
      break;
    }
    if (m[1] === 'not') negate = true;
    if (m[1] === 'name') scopeName = true;
    if (m[1] === 'alias') scopeAlias = true;
  }
  if (!scopeName && !scopeAlias) scopeName = scopeAlias = true;
  const term = rest;
  const lower = term.toLowerCase();
  const hit = (s: string) => (exact ? s === term : s.toLowerCase().includes(lower));
  return {
    term,
    negate,
    match: (k) => {
      const found = k.id === term || (scopeName && hit(k.name)) || (scopeAlias && k.aliases.some(hit));
      return negate ? !found : found;
    },
  };
}

const DATE_PROPS = ['creationDate', 'deletionDate', 'expirationDate', 'lastRotateDate', 'lastUpdateDate'] as const;
type DateProp = (typeof DATE_PROPS)[number];

/**
 * The `filter` query of GET keys (IBM's API reference): space-separated
 * `property=value` terms, all of which must hold; dates as
 * `[lt:|lte:|gt:|gte:]"RFC 3339"` or `none`, `extractable=true|false`,
 * `state=1,2`; a property at most three times.
 */
export function parseFilter(filter: string, what: string): (k: KeyRecord) => boolean {
  const bad = () => invalidQuery(what, 'filter', 'a valid filter query with a valid operator for a property specified after an "=" symbol');
  const terms = filter.trim() === '' ? [] : filter.trim().split(/\s+/);
  const preds: Array<(k: KeyRecord) => boolean> = [];
  const count = new Map<string, number>();
  for (const t of terms) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(t);
    if (!m) throw bad();
    const [, prop, value] = m;
    count.set(prop, (count.get(prop) ?? 0) + 1);
    if ((count.get(prop) ?? 0) > 3) throw bad();
    if (prop === 'extractable') {
      if (!/^(true|false)$/i.test(value)) throw bad();
      const want = value.toLowerCase() === 'true';
      preds.push((k) => k.extractable === want);
    } else if (prop === 'state') {
      if (!/^\d(,\d)*$/.test(value)) throw bad();
      const states = value.split(',').map(Number);
      preds.push((k) => states.includes(effectiveState(k)));
    } else if ((DATE_PROPS as readonly string[]).includes(prop)) {
      const date = (k: KeyRecord): string | undefined => k[prop as DateProp];
      if (/^none$/i.test(value)) {
        preds.push((k) => date(k) === undefined);
        continue;
      }
      const dm = /^(?:(lt|lte|gt|gte):)?"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"$/.exec(value);
      if (!dm || Number.isNaN(Date.parse(dm[2]))) throw bad();
      const at = Date.parse(dm[2]);
      const op = dm[1] ?? 'eq';
      preds.push((k) => {
        const d = date(k);
        if (d === undefined) return false;
        const v = Date.parse(d);
        return op === 'lt' ? v < at : op === 'lte' ? v <= at : op === 'gt' ? v > at : op === 'gte' ? v >= at : v === at;
      });
    } else {
      throw bad();
    }
  }
  return (k) => preds.every((p) => p(k));
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
