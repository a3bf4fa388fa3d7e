import { createHash } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import { invalidField } from '../errors';

// Attribute values as stored in Redis: JSON-safe and tagged with their KMIP
// type, so a custom attribute comes back exactly as it was given (type
// included). 64-bit values travel as decimal strings, bytes as base64.

export type StoredValue =
  | { t: 'text'; v: string }
  | { t: 'int'; v: number }
  | { t: 'long'; v: string }
  | { t: 'bigint'; v: string }
  | { t: 'enum'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'bytes'; v: string }
  | { t: 'date'; v: string }
  | { t: 'interval'; v: number }
  | { t: 'datex'; v: string }
  | { t: 'struct'; v: StoredField[] };

export interface StoredField {
  tag: number;
  value: StoredValue;
}

export type ValueType = StoredValue['t'];

/** Largest encoded value accepted for one attribute instance. */
export const MAX_VALUE_BYTES = 8 * 1024;
const MAX_STRUCT_FIELDS = 32;

export const text = (v: string): StoredValue => ({ t: 'text', v });
export const enumeration = (v: number): StoredValue => ({ t: 'enum', v });
export const integer = (v: number): StoredValue => ({ t: 'int', v });
export const date = (seconds: number): StoredValue => ({ t: 'date', v: String(seconds) });

/**
 * Converts a wire value to its stored form. `depth` 1 allows one level of
 * structure with primitive fields only (KMIP 1.x: a custom attribute's
 * structure SHALL NOT include sub-structures; the standard ones need none).
 */
export function fromProto(value: lifecycleV1.AttributeValue | undefined, what: string, depth = 1): StoredValue {
  if (!value) throw invalidField(`${what}: the attribute has no value`);
  let out: StoredValue | undefined;
  if (value.textString !== undefined) out = { t: 'text', v: value.textString };
  else if (value.integer !== undefined) out = { t: 'int', v: value.integer };
  else if (value.longInteger !== undefined) out = { t: 'long', v: value.longInteger.toString() };
  else if (value.bigInteger !== undefined) out = { t: 'bigint', v: Buffer.from(value.bigInteger).toString('base64') };
  else if (value.enumeration !== undefined) out = { t: 'enum', v: value.enumeration };
  else if (value.boolean !== undefined) out = { t: 'bool', v: value.boolean };
  else if (value.byteString !== undefined) out = { t: 'bytes', v: Buffer.from(value.byteString).toString('base64') };
  else if (value.dateTime !== undefined) out = { t: 'date', v: value.dateTime.toString() };
  else if (value.interval !== undefined) out = { t: 'interval', v: value.interval };
  else if (value.dateTimeExtended !== undefined) out = { t: 'datex', v: value.dateTimeExtended.toString() };
  else if (value.structure !== undefined) {
    if (depth <= 0) throw invalidField(`${what}: a structure inside a structure is not allowed here`);
    const fields = value.structure.fields;
    if (fields.length > MAX_STRUCT_FIELDS) throw invalidField(`${what}: more than ${MAX_STRUCT_FIELDS} structure fields`);
    out = {
      t: 'struct',
      v: fields.map((f) => {
        if (!Number.isInteger(f.tag) || f.tag <= 0 || f.tag > 0xffffff) throw invalidField(`${what}: field tag ${f.tag} is not a KMIP tag`);
        return { tag: f.tag, value: fromProto(f.value, `${what} field 0x${f.tag.toString(16)}`, depth - 1) };
      }),
    };
  }
  if (!out) throw invalidField(`${what}: the attribute has no value`);
  if (JSON.stringify(out).length > MAX_VALUE_BYTES) throw invalidField(`${what}: value larger than ${MAX_VALUE_BYTES} bytes`);
  return out;
}

export function toProto(v: StoredValue): lifecycleV1.AttributeValue {
  switch (v.t) {
    case 'text': return { textString: v.v };
    case 'int': return { integer: v.v };
    case 'long': return { longInteger: BigInt(v.v) };
    case 'bigint': return { bigInteger: Buffer.from(v.v, 'base64') };
    case 'enum': return { enumeration: v.v };
    case 'bool': return { boolean: v.v };
    case 'bytes': return { byteString: Buffer.from(v.v, 'base64') };
    case 'date': return { dateTime: BigInt(v.v) };
    case 'interval': return { interval: v.v };
    case 'datex': return { dateTimeExtended: BigInt(v.v) };
    case 'struct': return { structure: { fields: v.v.map((f) => ({ tag: f.tag, value: toProto(f.value) })) } };
  }
}

/** A stable string for equality and index keys. */
export function canonical(v: StoredValue): string {
  return JSON.stringify(v);
}

/** Canonical form hashed when long, for use inside a Redis key. */
export function indexToken(v: StoredValue): string {
  const c = v.t === 'text' ? `s:${v.v}` : canonical(v);
  return c.length <= 64 ? c : `h:${createHash('sha256').update(c).digest('hex')}`;
}

export function sameValue(a: StoredValue, b: StoredValue): boolean {
  return canonical(a) === canonical(b);
}

export function field(v: StoredValue, tag: number): StoredValue | undefined {
  return v.t === 'struct' ? v.v.find((f) => f.tag === tag)?.value : undefined;
}

/** Seconds of a Date-Time value (Date-Time Extended is microseconds). */
export function dateSeconds(v: StoredValue): number | undefined {
  if (v.t === 'date') return Number(v.v);
  if (v.t === 'datex') return Math.floor(Number(BigInt(v.v) / 1_000_000n));
  return undefined;
}
