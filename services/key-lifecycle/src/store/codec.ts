import type { AttributeBag, KeyRecord, RevocationReason } from '../model/record';
import type { StoredValue } from '../model/values';

// How a record is laid out in its Redis hash (docs/key-lifecycle.md, "Data
// model in Redis"): one field per attribute instance, so that Add, Modify
// and Delete Attribute write the one field they change (and the AOF grows by
// the change, not by the record), and a compact array for the rest:
//
//   ver         optimistic version (the write script increments it)
//   rec         [2, objectType, state, algorithm, length, usageMask, keyFormatType, createdMs,
//                initialDate, originalCreationDate, activationDate, oid, crkVersion, sealedRef,
//                createdBy, deactivationDate, processStartDate, protectStopDate, destroyDate,
//                compromiseDate, compromiseOccurrenceDate, revocationReason, secretDataType,
//                operationPolicyName, sealedDestroyPending, certificateType, opaqueDataType]
//                (absent = null, trailing nulls left out;
//                initialDate as the seconds it lies before createdMs, the other dates as seconds
//                after initialDate: mostly one or two digits; createdBy as "#<n>", the tenant's
//                number for the certificate (Store.creatorCode), else the fingerprint in base64url)
//   lc          Last Change Date (written by every change, so kept out of `rec`)
//   pub         a Public Key's or Certificate's public material (base64 DER; not secret), written once
//   <code>#<i>  one attribute instance: its Attribute Index i and its typed value
//   <code>#n    next Attribute Index of an attribute, only where it is not (highest index + 1)
//
// <code> is a short code for the standard attributes and vCenter's custom
// ones (ATTRIBUTE_CODES), else the attribute's own name (x-…; a code never
// has "-" second). Small hashes stay listpacks (Redis' compact encoding)
// while every field and value is at most hash-max-listpack-value bytes.
//
// A record written by an earlier keywarden (`rec` holding the whole record
// as JSON, attributes included) is read as well; the next write, or the
// migration at start-up (store/migrate.ts), stores it this way.

/** Record format of `rec` (1 was the whole record as JSON). */
export const FORMAT = 2;

/** Short field names of the attributes most keys carry. */
export const ATTRIBUTE_CODES: Readonly<Record<string, string>> = {
  Name: 'N',
  'Object Group': 'G',
  Link: 'L',
  'Cryptographic Parameters': 'CP',
  'Application Specific Information': 'AI',
  'Contact Information': 'CI',
  'Alternative Name': 'AN',
  // vCenter tags every key with these (docs/vcenter.md).
  'x-Product_Version': 'xPV',
  'x-Vendor': 'xV',
  'x-Product': 'xP',
  'x-Identifier': 'xI',
  'x-Component': 'xC',
  'x-Name': 'xN',
};

const NAME_OF_CODE = new Map(Object.entries(ATTRIBUTE_CODES).map(([n, c]) => [c, n]));

/** The hash field prefix of an attribute. */
export const attributeCode = (name: string): string => ATTRIBUTE_CODES[name] ?? name;

/** Fields of the record that are not attribute instances. */
export const CORE_FIELDS: ReadonlySet<string> = new Set(['ver', 'rec', 'lc', 'pub']);

// ---- values ----

/** A value as stored: text as "s<text>", integers and enumerations as "i<n>"/"e<n>", anything else as "j<json>". */
export function encodeValue(v: StoredValue): string {
  switch (v.t) {
    case 'text': return `s${v.v}`;
    case 'int': return `i${v.v}`;
    case 'enum': return `e${v.v}`;
    default: return `j${JSON.stringify(v)}`;
  }
}

export function decodeValue(s: string): StoredValue {
  switch (s[0]) {
    case 's': return { t: 'text', v: s.slice(1) };
    case 'i': return { t: 'int', v: Number(s.slice(1)) };
    case 'e': return { t: 'enum', v: Number(s.slice(1)) };
    case 'j': return JSON.parse(s.slice(1)) as StoredValue;
    default: throw new Error(`unknown stored value encoding "${s.slice(0, 1)}"`);
  }
}

// ---- compact identifiers ----

const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A SHA-256 fingerprint as 43 base64url characters instead of 64 hex digits; anything else as "=<text>". */
function packFingerprint(fp: string): string {
  return HEX64.test(fp) ? Buffer.from(fp, 'hex').toString('base64url') : `=${fp}`;
}

function unpackFingerprint(s: string): string {
  return s.startsWith('=') ? s.slice(1) : Buffer.from(s, 'base64url').toString('hex');
}

/** A UUID (a Key Protect key version) as "~" and 22 base64url characters; anything else as "=<text>". */
function packVersion(v: string): string {
  return UUID.test(v) ? `~${Buffer.from(v.replace(/-/g, ''), 'hex').toString('base64url')}` : `=${v}`;
}

function unpackVersion(s: string): string {
  if (!s.startsWith('~')) return s.slice(1);
  const h = Buffer.from(s.slice(1), 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- the record ----

type Core = Array<number | string | null | [number, string?]>;

function coreOf(r: KeyRecord, creator?: string): string {
  const rr = r.revocationReason;
  const d = (s: number | undefined) => (s === undefined ? null : s - r.initialDate);
  const a: Core = [
    FORMAT, r.objectType, r.state, r.algorithm ?? null, r.length ?? null, r.usageMask, r.keyFormatType, r.createdMs,
    Math.floor(r.createdMs / 1000) - r.initialDate, d(r.originalCreationDate), d(r.activationDate), r.oid ?? null, packVersion(r.crkVersion),
    r.sealedRef ?? null, creator ?? packFingerprint(r.createdBy), d(r.deactivationDate), d(r.processStartDate),
    d(r.protectStopDate), d(r.destroyDate), d(r.compromiseDate), d(r.compromiseOccurrenceDate),
    rr ? (rr.message !== undefined ? [rr.code, rr.message] : [rr.code]) : null, r.secretDataType ?? null,
    r.operationPolicyName ?? null, r.sealedDestroyPending ? 1 : null, r.certificateType ?? null, r.opaqueDataType ?? null,
  ];
  while (a[a.length - 1] === null) a.pop();
  return JSON.stringify(a);
}

function fromCore(uid: string, tenant: string, json: string, lc: number): KeyRecord {
  const a = JSON.parse(json) as Core;
  if (a[0] !== FORMAT) throw new Error(`record format ${String(a[0])} is not known to this key-lifecycle`);
  const n = (i: number): number | undefined => (typeof a[i] === 'number' ? (a[i] as number) : undefined);
  const s = (i: number): string | undefined => (typeof a[i] === 'string' ? (a[i] as string) : undefined);
  const createdMs = n(7) ?? 0;
  const initialDate = Math.floor(createdMs / 1000) - (n(8) ?? 0);
  const by = s(14) ?? '=';
  const r: KeyRecord = {
    uid, tenant, createdBy: by.startsWith('#') ? by : unpackFingerprint(by), createdMs, objectType: n(1) ?? 0, state: n(2) ?? 0,
    usageMask: n(5) ?? 0, keyFormatType: n(6) ?? 0, initialDate, lastChangeDate: lc, attrs: {},
    crkVersion: unpackVersion(s(12) ?? '='),
  };
  const set = (k: keyof KeyRecord, v: number | undefined) => { if (v !== undefined) (r as unknown as Record<string, number>)[k] = v; };
  const numbers: Array<[keyof KeyRecord, number]> = [['algorithm', 3], ['length', 4], ['oid', 11], ['secretDataType', 22], ['certificateType', 25], ['opaqueDataType', 26]];
  for (const [k, i] of numbers) set(k, n(i));
  const dates: Array<[keyof KeyRecord, number]> = [
    ['originalCreationDate', 9], ['activationDate', 10], ['deactivationDate', 15], ['processStartDate', 16], ['protectStopDate', 17],
    ['destroyDate', 18], ['compromiseDate', 19], ['compromiseOccurrenceDate', 20],
  ];
  for (const [k, i] of dates) set(k, n(i) === undefined ? undefined : initialDate + (n(i) as number));
  if (s(13) !== undefined) r.sealedRef = s(13);
  const rr = a[21];
  if (Array.isArray(rr)) r.revocationReason = (rr[1] !== undefined ? { code: rr[0], message: rr[1] } : { code: rr[0] }) as RevocationReason;
  if (s(23) !== undefined) r.operationPolicyName = s(23);
  if (a[24] === 1) r.sealedDestroyPending = true;
  return r;
}

/** Splits "<code>#<rest>" at its last "#". */
function splitField(f: string): [string, string] | undefined {
  const at = f.lastIndexOf('#');
  return at > 0 ? [f.slice(0, at), f.slice(at + 1)] : undefined;
}

/**
 * The hash fields a record is stored as (without `ver`). `creator`: the
 * tenant's "#<n>" for r.createdBy, when it has one (Store.creatorCode).
 */
export function encodeFields(r: KeyRecord, creator?: string): Map<string, string> {
  const out = new Map<string, string>([['rec', coreOf(r, creator)], ['lc', String(r.lastChangeDate)]]);
  if (r.publicMaterial !== undefined) out.set('pub', r.publicMaterial);
  for (const [name, bag] of Object.entries(r.attrs)) {
    const code = attributeCode(name);
    let top = -1;
    for (const it of bag.items) {
      out.set(`${code}#${it.i}`, encodeValue(it.v));
      top = Math.max(top, it.i);
    }
    if (bag.next !== top + 1) out.set(`${code}#n`, String(bag.next));
  }
  return out;
}

/** A record stored by an earlier keywarden: the whole record as JSON in `rec`. */
export const isLegacy = (h: Record<string, string>): boolean => (h.rec ?? '').startsWith('{');

/**
 * The record in a hash as HGETALL returns it; undefined when there is none.
 * A createdBy of "#<n>" is the tenant's number for the certificate: the
 * store puts the fingerprint in its place (Store.resolveCreators).
 */
export function decodeFields(uid: string, tenant: string, h: Record<string, string>): { ver: string; rec: KeyRecord; legacy: boolean } | undefined {
  if (!h.ver || !h.rec) return undefined;
  if (isLegacy(h)) {
    const rec = JSON.parse(h.rec) as KeyRecord;
    return { ver: h.ver, rec, legacy: true };
  }
  const rec = fromCore(uid, tenant, h.rec, Number(h.lc ?? 0));
  if (h.pub !== undefined) rec.publicMaterial = h.pub;
  const bags: Record<string, AttributeBag> = {};
  const nexts = new Map<string, number>();
  for (const [f, v] of Object.entries(h)) {
    if (CORE_FIELDS.has(f)) continue;
    const parts = splitField(f);
    if (!parts) continue;
    const name = NAME_OF_CODE.get(parts[0]) ?? parts[0];
    if (parts[1] === 'n') {
      nexts.set(name, Number(v));
      continue;
    }
    const b = (bags[name] ??= { next: 0, items: [] });
    const i = Number(parts[1]);
    b.items.push({ i, v: decodeValue(v) });
    b.next = Math.max(b.next, i + 1);
  }
  for (const [name, b] of Object.entries(bags)) {
    b.items.sort((x, y) => x.i - y.i);
    b.next = Math.max(b.next, nexts.get(name) ?? 0);
  }
  // Insertion order of attribute names: as listed by name (allAttributes sorts custom names itself).
  for (const name of Object.keys(bags).sort()) rec.attrs[name] = bags[name];
  return { ver: h.ver, rec, legacy: false };
}

/** A flat [field, value, field, value, …] reply as an object. */
export function pairs(flat: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]] = flat[i + 1];
  return h;
}

// ---- what a record costs ----

const isCustom = (name: string) => name.startsWith('x-') || name.startsWith('y-');

/**
 * Bytes of a record's client-managed attributes as stored (field and value,
 * UTF-8), all of them and the custom ones alone: what the attribute quotas
 * count. A Public Key's or Certificate's public material is client data
 * stored in Redis too, and counts with them.
 */
export function attributeBytes(r: KeyRecord): { all: number; custom: number } {
  let all = r.publicMaterial === undefined ? 0 : 3 + r.publicMaterial.length;
  let custom = 0;
  for (const [name, bag] of Object.entries(r.attrs)) {
    const code = attributeCode(name);
    let n = 0;
    for (const it of bag.items) n += Buffer.byteLength(`${code}#${it.i}`) + Buffer.byteLength(encodeValue(it.v));
    all += n;
    if (isCustom(name)) custom += n;
  }
  return { all, custom };
}
