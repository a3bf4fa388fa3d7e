import type { Shape } from './client';

// The answers crk-wrapping reads from Key Protect and HPCS, as shapes
// (docs/keyprotect-api.md). An answer that lacks a field the call needs, or
// has one of the wrong type, is a MalformedAnswer: a clear PROVIDER_ERROR,
// counted by the breaker, and nothing is stored from it.

export interface KeyResource {
  id: string;
  name?: string;
  description?: string;
  state?: number;
  deleted?: boolean;
  payload?: string;
  extractable?: boolean;
  creationDate?: string;
  lastRotateDate?: string;
  keyVersion?: { id: string };
}

export interface Collection {
  resources: KeyResource[];
}

export interface Wrapped {
  ciphertext: string;
  keyVersion: { id: string };
}

export interface Unwrapped {
  plaintext: string;
  keyVersion?: { id: string };
  ciphertext?: string;
  rewrappedKeyVersion?: { id: string };
}

export interface Rewrapped {
  ciphertext: string;
  keyVersion: { id: string };
  rewrappedKeyVersion: { id: string };
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
/** Strict base64, as the service writes it. */
const isBase64 = (v: unknown): v is string => isText(v) && v.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(v);

/** A field that may be absent but, when present, must have the right type. */
function optional(o: Obj, field: string, ok: (v: unknown) => boolean, what: string): string | undefined {
  return o[field] === undefined || ok(o[field]) ? undefined : `has a ${field} that is not ${what}`;
}

const versionOk = (v: unknown): boolean => isObj(v) && isText(v.id);

/** One key of a collection: an id, and every field keywarden reads of the right type. */
function keyProblem(k: unknown): string | undefined {
  if (!isObj(k)) return 'has a resource that is not an object';
  if (!isText(k.id)) return 'has a resource without an id';
  return optional(k, 'name', isText, 'a string')
    ?? optional(k, 'description', (v) => typeof v === 'string', 'a string')
    ?? optional(k, 'state', (v) => Number.isInteger(v), 'an integer')
    ?? optional(k, 'deleted', (v) => typeof v === 'boolean', 'a boolean')
    ?? optional(k, 'extractable', (v) => typeof v === 'boolean', 'a boolean')
    ?? optional(k, 'payload', (v) => typeof v === 'string', 'a string')
    ?? optional(k, 'creationDate', isText, 'a date')
    ?? optional(k, 'lastRotateDate', isText, 'a date')
    ?? optional(k, 'keyVersion', versionOk, 'an object with an id');
}

/** A key collection (GET keys, a list page): `resources`, possibly empty. */
export const keyList: Shape = (b) => {
  if (!isObj(b)) return 'is not an object';
  if (!Array.isArray(b.resources)) return 'has no resources list';
  for (const k of b.resources) {
    const p = keyProblem(k);
    if (p) return p;
  }
  return undefined;
};

/** A collection of at least one key (create, metadata, get). */
export const oneKey: Shape = (b) => keyList(b) ?? ((b as Collection).resources.length === 0 ? 'has no key in resources' : undefined);

/**
 * A standard key as GET keys/<id> answers it: its name and description (the
 * binding to a KMIP object), and its payload unless it was deleted.
 */
export const standardKey: Shape = (b) => {
  const p = oneKey(b);
  if (p) return p;
  const k = (b as Collection).resources[0];
  if (k.deleted === true || k.state === 5) return undefined;
  if (!isText(k.name)) return 'has a key without a name';
  if (typeof k.description !== 'string') return 'has a key without a description';
  if (!isBase64(k.payload)) return 'has a key without a base64 payload';
  return undefined;
};

/** POST keys/<id>/actions/wrap (wrap-keys.md). */
export const wrapped: Shape = (b) => {
  if (!isObj(b)) return 'is not an object';
  if (!isBase64(b.ciphertext)) return 'has no base64 ciphertext';
  if (!versionOk(b.keyVersion)) return 'has no keyVersion.id';
  return undefined;
};

/** POST keys/<id>/actions/unwrap (unwrap-keys.md): the plaintext, and after a rotation the rewrapped ciphertext. */
export const unwrapped: Shape = (b) => {
  if (!isObj(b)) return 'is not an object';
  if (!isBase64(b.plaintext)) return 'has no base64 plaintext';
  return optional(b, 'keyVersion', versionOk, 'an object with an id')
    ?? optional(b, 'ciphertext', isBase64, 'base64')
    ?? optional(b, 'rewrappedKeyVersion', versionOk, 'an object with an id');
};

/** POST keys/<id>/actions/rewrap (rewrap-keys.md). */
export const rewrapped: Shape = (b) => {
  if (!isObj(b)) return 'is not an object';
  if (!isBase64(b.ciphertext)) return 'has no base64 ciphertext';
  if (!versionOk(b.keyVersion)) return 'has no keyVersion.id';
  if (!versionOk(b.rewrappedKeyVersion)) return 'has no rewrappedKeyVersion.id';
  return undefined;
};
