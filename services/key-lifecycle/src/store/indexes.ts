import { createHash } from 'crypto';
import { nameValues } from '../model/attributes';
import type { KeyRecord } from '../model/record';
import { isDestroyed, nextTransitionAt } from '../model/state';
import { indexToken } from '../model/values';

// What Locate, listing and rewrap find a record by, and how that is kept
// small (docs/key-lifecycle.md, "Data model in Redis"). Every object of a
// tenant has a number (`oid`, in creation order), and the indexes hold
// numbers, not uids:
//   - order: oid → uid, 128 oids per hash (creation order, listing);
//   - postings: for each indexed (attribute, value), the oids that have it.
//     The pair is hashed (48 bits); the first 12 bits pick one of 4096
//     hashes of the tenant, the other 36 are the field. The field holds the
//     oids in base 36 while they are few (values unique to a key: x-Name,
//     x-Identifier), and "*" once they are many, the oids then being the
//     bits of a bitmap of their own (State, Object Type, x-Vendor: one bit a
//     key). Locate matches every candidate against every criterion anyway,
//     so a hash collision can only add a candidate;
//   - names: Name Value → uid (unique per tenant), kept as it was;
//   - timed: uids with a date-driven transition ahead.

/** Oids a posting lists before it becomes a bitmap. */
export const POSTING_LIST_MAX = 16;
/** Objects per order hash. */
export const ORDER_BUCKET = 128;

export type IndexEntry =
  | { kind: 'post'; attr: string; token: string }
  | { kind: 'name'; value: string }
  | { kind: 'timed'; due: number }
  | { kind: 'pending' };

const enc = encodeURIComponent;

/** 12 hex digits naming an indexed (attribute, value) pair: 3 for the hash it lives in, 9 for its field. */
export function postingId(attr: string, token: string): string {
  return createHash('sha256').update(attr).update('\0').update(token).digest('hex').slice(0, 12);
}

/** The index entries a record implies; writes apply the difference between old and new. */
export function indexEntries(r: KeyRecord): IndexEntry[] {
  const post = (attr: string, token: string): IndexEntry => ({ kind: 'post', attr, token });
  const out: IndexEntry[] = [
    post('type', String(r.objectType)),
    post('state', String(r.state)),
    post('crkv', enc(r.crkVersion)),
  ];
  if (r.algorithm !== undefined) out.push(post('alg', String(r.algorithm)));
  for (const g of r.attrs['Object Group']?.items ?? []) out.push(post('group', indexToken(g.v)));
  for (const [name, b] of Object.entries(r.attrs)) {
    if (!name.startsWith('x-') && !name.startsWith('y-')) continue;
    for (const it of b.items) out.push(post(`c:${enc(name)}`, indexToken(it.v)));
  }
  for (const n of nameValues(r)) out.push({ kind: 'name', value: n });
  const due = nextTransitionAt(r);
  if (due !== undefined) out.push({ kind: 'timed', due });
  if (r.sealedDestroyPending) out.push({ kind: 'pending' });
  return out;
}

export const entryId = (e: IndexEntry): string => {
  switch (e.kind) {
    case 'post': return `p\0${e.attr}\0${e.token}`;
    case 'name': return `n\0${e.value}`;
    case 'timed': return `t\0${e.due}`;
    case 'pending': return 'd';
  }
};

/** Counted against the objects quota: every object that is not destroyed. */
export const isLive = (r: KeyRecord): boolean => !isDestroyed(r.state);

/** The oids in a posting bitmap (bit n set = oid n), in increasing order. */
export function bitmapOids(bits: Buffer | null): number[] {
  const out: number[] = [];
  if (!bits) return out;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if (b === 0) continue;
    for (let j = 0; j < 8; j++) if (b & (0x80 >> j)) out.push(i * 8 + j);
  }
  return out;
}

/** The oids in a posting list ("a,b,c" in base 36). */
export function listOids(list: string): number[] {
  return list.split(',').filter(Boolean).map((s) => parseInt(s, 36));
}
