import { Tag } from '@keywarden/kmip';
import { invalidField } from '../errors';
import { attributeDef } from './attributes';
import type { KeyRecord } from './record';
import { canonical, dateSeconds, field, StoredValue } from './values';

// Matching rules of KMIP 1.4 §4.9 (Locate): every attribute given must
// match; one instance of a date attribute matches that date, two give an
// inclusive range; the Cryptographic Usage Mask matches when every requested
// bit is set; a structure given in part matches on the fields given; an
// attribute with several instances matches when any instance does.

export interface Criterion {
  name: string;
  value: StoredValue;
}

export interface CriteriaGroup {
  name: string;
  values: StoredValue[];
  kind: 'date' | 'mask' | 'value';
}

const DATE_ATTRIBUTES = new Set([
  'Initial Date', 'Activation Date', 'Process Start Date', 'Protect Stop Date', 'Deactivation Date',
  'Destroy Date', 'Compromise Occurrence Date', 'Compromise Date', 'Last Change Date', 'Original Creation Date',
]);

/** Validates and groups Locate criteria (11.10: unknown attributes are Invalid Field). */
export function groupCriteria(criteria: Criterion[]): CriteriaGroup[] {
  const groups = new Map<string, CriteriaGroup>();
  for (const c of criteria) {
    if (!attributeDef(c.name)) throw invalidField(`Locate: attribute "${c.name}" is not supported`);
    const kind = DATE_ATTRIBUTES.has(c.name) ? 'date' : c.name === 'Cryptographic Usage Mask' ? 'mask' : 'value';
    if (kind === 'date' && dateSeconds(c.value) === undefined) throw invalidField(`Locate: "${c.name}" must be a Date-Time`);
    if (kind === 'mask' && c.value.t !== 'int') throw invalidField('Locate: "Cryptographic Usage Mask" must be an Integer');
    const g = groups.get(c.name) ?? { name: c.name, values: [], kind };
    g.values.push(c.value);
    groups.set(c.name, g);
  }
  for (const g of groups.values()) {
    if (g.kind === 'date' && g.values.length > 2) throw invalidField(`Locate: "${g.name}" given more than twice (two instances make a range)`);
  }
  return [...groups.values()];
}

function valueMatches(have: StoredValue, want: StoredValue): boolean {
  if (want.t === 'struct') {
    if (have.t !== 'struct') return false;
    return want.v.every((wf) => {
      const hf = field(have, wf.tag);
      return hf !== undefined && valueMatches(hf, wf.value);
    });
  }
  // A bare Text String finds a Name by its Name Value.
  if (have.t === 'struct' && want.t === 'text') {
    const nv = field(have, Tag.NameValue);
    return nv !== undefined && canonical(nv) === canonical(want);
  }
  return canonical(have) === canonical(want);
}

/** `r` must already have its due transitions applied. */
export function matches(r: KeyRecord, groups: CriteriaGroup[]): boolean {
  for (const g of groups) {
    const def = attributeDef(g.name);
    const have = def ? def.read(r).map((i) => i.v) : [];
    if (have.length === 0) return false;
    if (g.kind === 'date') {
      const ds = g.values.map((v) => dateSeconds(v) as number);
      const lo = Math.min(...ds);
      const hi = Math.max(...ds);
      if (!have.some((h) => { const s = dateSeconds(h); return s !== undefined && s >= lo && s <= hi; })) return false;
    } else if (g.kind === 'mask') {
      const mask = have[0].t === 'int' ? have[0].v : 0;
      if (!g.values.every((v) => v.t === 'int' && (mask & v.v) === v.v)) return false;
    } else if (!g.values.every((want) => have.some((h) => valueMatches(h, want)))) {
      return false;
    }
  }
  return true;
}
