import { ObjectType, State, Tag } from '@keywarden/kmip';
import {
  attributeInstanceNotFound, attributeNotFound, attributeReadOnly, attributeSingleValued, invalidField, permissionDenied, serverLimitExceeded,
} from '../errors';
import type { AttributeInstance, KeyRecord } from './record';
import { applyDueTransitions, stateName } from './state';
import { date, dateSeconds, enumeration, field, integer, sameValue, StoredValue, text, ValueType } from './values';

// Attribute rules of KMIP 1.4 §3 (the "Attribute Rules" table of each
// attribute): who sets it, whether a client may add, modify or delete it,
// whether it may have several instances, and which object types it applies to.
// Errors follow KMIP 1.4 §11.15 (Add), §11.16 (Modify) and §11.17 (Delete),
// named as KMIP 2.1 names them where it is more precise (errors.ts).

/** Server limit on instances of one multi-instance attribute (11.15: Index Out of Bounds). */
export const MAX_INSTANCES = 64;
/** Server limit on client-managed attribute instances per object. */
export const MAX_TOTAL_INSTANCES = 512;
const MAX_NAME_LENGTH = 256;

type Permission = boolean | ((r: KeyRecord, now: number) => string | undefined);

export interface AttributeDef {
  name: string;
  multi: boolean;
  /** Expected value type; undefined = any (custom attributes). */
  type?: ValueType;
  /** Validates a client-supplied value and returns its stored form. */
  normalize?(v: StoredValue, what: string): StoredValue;
  /** Instances on a record. */
  read(r: KeyRecord): AttributeInstance[];
  /** May a client set it in Create / Register? */
  create: boolean;
  add: Permission;
  modify: Permission;
  del: Permission;
  /** Server-held (core) attributes write through this; bag attributes live in record.attrs. */
  write?(r: KeyRecord, v: StoredValue, now: number): void;
  appliesTo?: ReadonlySet<number>;
}

const SYMMETRIC: ReadonlySet<number> = new Set([ObjectType.SymmetricKey, ObjectType.SplitKey]);
const CERTIFICATES: ReadonlySet<number> = new Set([ObjectType.Certificate]);

const one = (v: StoredValue | undefined): AttributeInstance[] => (v === undefined ? [] : [{ i: 0, v }]);
const optDate = (s: number | undefined) => (s === undefined ? undefined : date(s));
const bag = (name: string) => (r: KeyRecord): AttributeInstance[] => r.attrs[name]?.items ?? [];

function mustBe(type: ValueType) {
  return (v: StoredValue, what: string): StoredValue => {
    if (v.t !== type) throw invalidField(`${what} must be of type ${type}, not ${v.t}`);
    return v;
  };
}

function dateValue(v: StoredValue, what: string): number {
  const s = dateSeconds(v);
  if (s === undefined || !Number.isSafeInteger(s) || s < 0) throw invalidField(`${what} must be a Date-Time`);
  return s;
}

function structOf(v: StoredValue, what: string, required: Array<[number, ValueType, string]>, optional: Array<[number, ValueType, string]> = []): StoredValue {
  if (v.t !== 'struct') throw invalidField(`${what} must be a structure`);
  const known = new Map([...required, ...optional].map(([tag, t, n]) => [tag, { t, n }]));
  for (const f of v.v) {
    const k = known.get(f.tag);
    if (!k) throw invalidField(`${what}: unexpected field tag 0x${f.tag.toString(16)}`);
    if (f.value.t !== k.t) throw invalidField(`${what}: ${k.n} must be of type ${k.t}`);
  }
  if (new Set(v.v.map((f) => f.tag)).size !== v.v.length) throw invalidField(`${what}: a field appears twice`);
  for (const [tag, , n] of required) if (!field(v, tag)) throw invalidField(`${what}: ${n} is missing`);
  return v;
}

function nameValue(v: StoredValue, what: string): StoredValue {
  // A bare Text String is taken as a Name Value of type Uninterpreted Text String.
  const s = v.t === 'text' ? { t: 'struct' as const, v: [{ tag: Tag.NameValue, value: v }] } : v;
  structOf(s, what, [[Tag.NameValue, 'text', 'Name Value']], [[Tag.NameType, 'enum', 'Name Type']]);
  if (s.t === 'struct' && !field(s, Tag.NameType)) s.v.push({ tag: Tag.NameType, value: enumeration(1) });
  const nv = field(s, Tag.NameValue);
  if (nv?.t === 'text' && nv.v.length === 0) throw invalidField(`${what}: Name Value is empty`);
  return s;
}

const preActiveOnly = (attr: string) => (r: KeyRecord) =>
  r.state === State.PreActive ? undefined : `${attr} can only be changed while the object is Pre-Active (it is ${stateName(r.state)})`;

const preActiveOrActive = (attr: string, reached?: (r: KeyRecord) => number | undefined) => (r: KeyRecord, now: number) => {
  if (r.state !== State.PreActive && r.state !== State.Active) return `${attr} can only be changed while the object is Pre-Active or Active (it is ${stateName(r.state)})`;
  const at = reached?.(r);
  if (at !== undefined && at <= now) return `${attr} has been reached and can no longer be changed`;
  return undefined;
};

function readOnly(name: string, read: (r: KeyRecord) => StoredValue | undefined, appliesTo?: ReadonlySet<number>): AttributeDef {
  return { name, multi: false, read: (r) => one(read(r)), create: false, add: false, modify: false, del: false, appliesTo };
}

function bagAttr(name: string, multi: boolean, normalize: (v: StoredValue, what: string) => StoredValue, type?: ValueType): AttributeDef {
  return { name, multi, type, normalize, read: bag(name), create: true, add: true, modify: true, del: true };
}

const DEFS: AttributeDef[] = [
  readOnly('Unique Identifier', (r) => text(r.uid)),
  bagAttr('Name', true, nameValue, 'struct'),
  readOnly('Object Type', (r) => enumeration(r.objectType)),
  {
    ...readOnly('Cryptographic Algorithm', (r) => (r.algorithm === undefined ? undefined : enumeration(r.algorithm))),
    create: true, type: 'enum', normalize: mustBe('enum'),
    write: (r, v) => { r.algorithm = (v as { v: number }).v; },
  },
  {
    ...readOnly('Cryptographic Length', (r) => (r.length === undefined ? undefined : integer(r.length))),
    create: true, type: 'int', normalize: mustBe('int'),
    write: (r, v) => { r.length = (v as { v: number }).v; },
  },
  bagAttr('Cryptographic Parameters', true, (v, what) => structOf(v, what, [], [
    [Tag.BlockCipherMode, 'enum', 'Block Cipher Mode'], [Tag.PaddingMethod, 'enum', 'Padding Method'],
    [Tag.HashingAlgorithm, 'enum', 'Hashing Algorithm'], [Tag.KeyRoleType, 'enum', 'Key Role Type'],
    [Tag.DigitalSignatureAlgorithm, 'enum', 'Digital Signature Algorithm'], [Tag.CryptographicAlgorithm, 'enum', 'Cryptographic Algorithm'],
    [Tag.RandomIV, 'bool', 'Random IV'], [Tag.IVLength, 'int', 'IV Length'], [Tag.TagLength, 'int', 'Tag Length'],
    [Tag.FixedFieldLength, 'int', 'Fixed Field Length'], [Tag.InvocationFieldLength, 'int', 'Invocation Field Length'],
    [Tag.CounterLength, 'int', 'Counter Length'], [Tag.InitialCounterValue, 'int', 'Initial Counter Value'],
  ]), 'struct'),
  {
    ...readOnly('Cryptographic Usage Mask', (r) => integer(r.usageMask)),
    create: true, type: 'int', normalize: mustBe('int'),
    write: (r, v) => { r.usageMask = (v as { v: number }).v; },
  },
  {
    ...readOnly('Operation Policy Name', (r) => (r.operationPolicyName === undefined ? undefined : text(r.operationPolicyName))),
    create: true, type: 'text', normalize: mustBe('text'),
    write: (r, v) => { r.operationPolicyName = (v as { v: string }).v; },
  },
  readOnly('State', (r) => enumeration(r.state)),
  readOnly('Initial Date', (r) => date(r.initialDate)),
  {
    name: 'Activation Date', multi: false, type: 'date', read: (r) => one(optDate(r.activationDate)),
    normalize: (v, what) => date(dateValue(v, what)),
    create: true,
    add: preActiveOnly('Activation Date'),
    modify: preActiveOnly('Activation Date'),
    del: false,
    // Transition 4: an Activation Date now or in the past activates a Pre-Active object.
    write: (r, v, now) => { r.activationDate = dateValue(v, 'Activation Date'); applyDueTransitions(r, now); },
  },
  {
    name: 'Process Start Date', multi: false, type: 'date', read: (r) => one(optDate(r.processStartDate)), appliesTo: SYMMETRIC,
    normalize: (v, what) => date(dateValue(v, what)),
    create: true,
    add: preActiveOrActive('Process Start Date'),
    modify: preActiveOrActive('Process Start Date', (r) => r.processStartDate),
    del: false,
    write: (r, v) => { r.processStartDate = dateValue(v, 'Process Start Date'); },
  },
  {
    name: 'Protect Stop Date', multi: false, type: 'date', read: (r) => one(optDate(r.protectStopDate)), appliesTo: SYMMETRIC,
    normalize: (v, what) => date(dateValue(v, what)),
    create: true,
    add: preActiveOrActive('Protect Stop Date'),
    modify: preActiveOrActive('Protect Stop Date', (r) => r.protectStopDate),
    del: false,
    write: (r, v) => { r.protectStopDate = dateValue(v, 'Protect Stop Date'); },
  },
  {
    name: 'Deactivation Date', multi: false, type: 'date', read: (r) => one(optDate(r.deactivationDate)),
    normalize: (v, what) => date(dateValue(v, what)),
    create: true,
    add: preActiveOrActive('Deactivation Date'),
    modify: preActiveOrActive('Deactivation Date'),
    del: false,
    // Transition 6: a Deactivation Date now or in the past deactivates an Active object.
    write: (r, v, now) => { r.deactivationDate = dateValue(v, 'Deactivation Date'); applyDueTransitions(r, now); },
  },
  readOnly('Destroy Date', (r) => optDate(r.destroyDate)),
  readOnly('Compromise Occurrence Date', (r) => optDate(r.compromiseOccurrenceDate)),
  readOnly('Compromise Date', (r) => optDate(r.compromiseDate)),
  readOnly('Revocation Reason', (r) => r.revocationReason && {
    t: 'struct',
    v: [
      { tag: Tag.RevocationReasonCode, value: enumeration(r.revocationReason.code) },
      ...(r.revocationReason.message !== undefined ? [{ tag: Tag.RevocationMessage, value: text(r.revocationReason.message) }] : []),
    ],
  }),
  bagAttr('Object Group', true, mustBe('text'), 'text'),
  bagAttr('Link', true, (v, what) => structOf(v, what, [
    [Tag.LinkType, 'enum', 'Link Type'], [Tag.LinkedObjectIdentifier, 'text', 'Linked Object Identifier'],
  ]), 'struct'),
  bagAttr('Application Specific Information', true, (v, what) => structOf(v, what,
    [[Tag.ApplicationNamespace, 'text', 'Application Namespace']], [[Tag.ApplicationData, 'text', 'Application Data']]), 'struct'),
  bagAttr('Contact Information', false, mustBe('text'), 'text'),
  readOnly('Last Change Date', (r) => date(r.lastChangeDate)),
  bagAttr('Alternative Name', true, (v, what) => structOf(v, what, [
    [Tag.AlternativeNameValue, 'text', 'Alternative Name Value'], [Tag.AlternativeNameType, 'enum', 'Alternative Name Type'],
  ]), 'struct'),
  readOnly('Original Creation Date', (r) => optDate(r.originalCreationDate)),
  // A certificate's, from its value (KMIP 1.4 §3.8, §3.9).
  readOnly('Certificate Type', (r) => (r.certificateType === undefined ? undefined : enumeration(r.certificateType)), CERTIFICATES),
  readOnly('Certificate Length', (r) => (r.objectType === ObjectType.Certificate && r.publicMaterial ? integer(Buffer.byteLength(r.publicMaterial, 'base64')) : undefined), CERTIFICATES),
];

const BY_NAME = new Map(DEFS.map((d) => [d.name, d]));

/** Attribute names in the order Get Attributes returns them. */
export const STANDARD_ORDER = DEFS.map((d) => d.name);

export const isClientCustom = (name: string): boolean => name.startsWith('x-') && name.length > 2;
export const isServerCustom = (name: string): boolean => name.startsWith('y-') && name.length > 2;

function customDef(name: string): AttributeDef {
  return { name, multi: true, read: bag(name), create: true, add: true, modify: true, del: true };
}

/** The rules for a name, or undefined when key-lifecycle does not support it. */
export function attributeDef(name: string): AttributeDef | undefined {
  const d = BY_NAME.get(name);
  if (d) return d;
  if ((isClientCustom(name) || isServerCustom(name)) && name.length <= MAX_NAME_LENGTH) {
    // y- attributes are the server's (3.39); none is defined, and clients may not set them.
    return isServerCustom(name) ? { ...customDef(name), create: false, add: false, modify: false, del: false } : customDef(name);
  }
  return undefined;
}

export function appliesTo(d: AttributeDef, objectType: number): boolean {
  return !d.appliesTo || d.appliesTo.has(objectType);
}

/** Every attribute instance of a record, standard ones first, then custom ones by name. */
export function allAttributes(r: KeyRecord): Array<{ name: string; instance: AttributeInstance }> {
  const out: Array<{ name: string; instance: AttributeInstance }> = [];
  for (const d of DEFS) for (const instance of d.read(r)) out.push({ name: d.name, instance });
  for (const name of Object.keys(r.attrs).filter((n) => !BY_NAME.has(n)).sort()) {
    for (const instance of r.attrs[name].items) out.push({ name, instance });
  }
  return out;
}

export function presentNames(r: KeyRecord): string[] {
  const names: string[] = [];
  for (const { name } of allAttributes(r)) if (names[names.length - 1] !== name) names.push(name);
  return names;
}

function denied(p: Permission, r: KeyRecord, now: number, fallback: string): string | undefined {
  if (p === true) return undefined;
  if (p === false) return fallback;
  return p(r, now);
}

function normalize(d: AttributeDef, v: StoredValue, what: string): StoredValue {
  if (d.normalize) return d.normalize(v, what);
  if (d.type && v.t !== d.type) throw invalidField(`${what} must be of type ${d.type}, not ${v.t}`);
  return v;
}

function totalInstances(r: KeyRecord): number {
  return Object.values(r.attrs).reduce((n, b) => n + b.items.length, 0);
}

function appendToBag(r: KeyRecord, name: string, v: StoredValue): AttributeInstance {
  const b = (r.attrs[name] ??= { next: 0, items: [] });
  if (b.items.length >= MAX_INSTANCES) throw serverLimitExceeded(`${name} already has ${MAX_INSTANCES} instances, the server's limit`);
  if (totalInstances(r) >= MAX_TOTAL_INSTANCES) throw serverLimitExceeded(`the object already has ${MAX_TOTAL_INSTANCES} attribute instances, the server's limit`);
  const inst = { i: b.next++, v };
  b.items.push(inst);
  return inst;
}

/**
 * Applies one attribute of a Create or Register template (11.2 / 11.4: bad
 * attributes are Invalid Field). Returns false for attributes the operation
 * itself handles.
 */
export function applyTemplateAttribute(r: KeyRecord, name: string, value: StoredValue, seen: Set<string>, now: number): void {
  const what = `attribute "${name}"`;
  const d = attributeDef(name);
  if (!d) throw invalidField(`${what} is not supported`);
  if (!d.create) throw invalidField(`${what} is set by the server and cannot be given by a client`);
  if (!appliesTo(d, r.objectType)) throw invalidField(`${what} does not apply to this object type`);
  if (!d.multi && seen.has(name)) throw invalidField(`${what} is single-instance but was given more than once`);
  seen.add(name);
  const v = normalize(d, value, what);
  if (d.write) d.write(r, v, now);
  else appendToBag(r, name, v);
}

/** 4.14 Add Attribute. Returns the stored instance with its new index. */
export function addAttribute(r: KeyRecord, name: string, index: number, value: StoredValue, now: number): AttributeInstance {
  const what = `attribute "${name}"`;
  const d = attributeDef(name);
  if (!d) throw permissionDenied(`${what} is not supported by this server`);
  if (isServerCustom(name)) throw permissionDenied(`${what}: y- attributes are server-defined and cannot be set by a client`);
  if (d.add === false) throw attributeReadOnly(`${what} is read-only`);
  if (!appliesTo(d, r.objectType)) throw permissionDenied(`${what} does not apply to this object type`);
  if (index !== 0) throw invalidField('Add Attribute must not specify an Attribute Index');
  if (!d.multi && d.read(r).length > 0) throw attributeSingleValued(`${what} already exists and is single-instance; use Modify Attribute`);
  const no = denied(d.add, r, now, `${what} is read-only`);
  if (no) throw permissionDenied(no);
  const v = normalize(d, value, what);
  if (d.write) {
    d.write(r, v, now);
    return { i: 0, v };
  }
  return appendToBag(r, name, v);
}

/** 4.15 Modify Attribute. Returns the modified instance. */
export function modifyAttribute(r: KeyRecord, name: string, index: number, value: StoredValue, now: number): AttributeInstance {
  const what = `attribute "${name}"`;
  const d = attributeDef(name);
  if (!d) throw permissionDenied(`${what} is not supported by this server`);
  if (isServerCustom(name)) throw permissionDenied(`${what}: y- attributes are server-defined and cannot be modified by a client`);
  if (d.modify === false) throw attributeReadOnly(`${what} is read-only`);
  const current = d.read(r);
  if (current.length === 0) throw invalidField(`${what} does not exist on this object; add it first`);
  const target = current.find((c) => c.i === index);
  if (!target) throw attributeInstanceNotFound(`${what} has no instance with Attribute Index ${index}`);
  const no = denied(d.modify, r, now, `${what} is read-only`);
  if (no) throw permissionDenied(no);
  const v = normalize(d, value, what);
  if (d.write) {
    d.write(r, v, now);
    return { i: 0, v };
  }
  target.v = v;
  return target;
}

/**
 * Attribute Index of the instance of `name` whose value is `value` (KMIP 2.x
 * Current Attribute), compared after the same normalisation as when stored.
 * Called inside the update, on the record being changed, so no concurrent
 * change can make the index name another instance.
 */
export function instanceWithValue(r: KeyRecord, name: string, value: StoredValue): number {
  const what = `attribute "${name}"`;
  const d = attributeDef(name);
  const want = d ? normalize(d, value, what) : value;
  const hit = (d ? d.read(r) : []).find((c) => sameValue(c.v, want));
  if (!hit) throw attributeNotFound(`no instance of ${what} has the value given as Current Attribute`);
  return hit.i;
}

/** 4.16 Delete Attribute. Returns the deleted instance. */
export function deleteAttribute(r: KeyRecord, name: string, index: number, now: number): AttributeInstance {
  const what = `attribute "${name}"`;
  const d = attributeDef(name);
  if (d && d.del === false && d.read(r).length > 0) throw attributeReadOnly(`${what} is read-only or required and cannot be deleted`);
  const current = d ? d.read(r) : [];
  if (current.length === 0) throw attributeNotFound(`${what} does not exist on this object`);
  const target = current.find((c) => c.i === index);
  if (!target) throw attributeInstanceNotFound(`${what} has no instance with Attribute Index ${index}`);
  const no = d ? denied(d.del, r, now, `${what} cannot be deleted`) : undefined;
  if (no) throw permissionDenied(no);
  const b = r.attrs[name];
  b.items = b.items.filter((c) => c !== target);
  if (b.items.length === 0) delete r.attrs[name];
  return target;
}

/** Name Values of a record (unique within a tenant). */
export function nameValues(r: KeyRecord): string[] {
  return (r.attrs['Name']?.items ?? []).map((n) => field(n.v, Tag.NameValue)).filter((v): v is { t: 'text'; v: string } => v?.t === 'text').map((v) => v.v);
}
