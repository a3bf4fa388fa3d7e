// KMIP 1.4 §4.9 Locate (errors: §11.10), with Maximum Items and the
// KMIP 1.3 Offset Items. Indexes narrow the candidates; every candidate is
// then matched against all criteria, so an index never decides alone.
import type { lifecycleV1 } from '@keywarden/proto';
import { Tag } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { CriteriaGroup, groupCriteria, matches } from '../model/locate-match';
import type { KeyRecord } from '../model/record';
import { applyDueTransitions } from '../model/state';
import { field, fromProto, indexToken, StoredValue } from '../model/values';
import type { Store } from '../store/store';

/** Server limit on identifiers in one response (4.9: the server MAY impose one). */
export const LOCATE_LIMIT = 10_000;
const BATCH = 500;

const INDEXED: Record<string, string> = {
  'Object Type': 'type',
  State: 'state',
  'Cryptographic Algorithm': 'alg',
  'Object Group': 'group',
};

function exactToken(name: string, v: StoredValue): [string, string] | undefined {
  const attr = INDEXED[name];
  if (attr) return [attr, attr === 'group' ? indexToken(v) : String((v as { v: unknown }).v)];
  if ((name.startsWith('x-') || name.startsWith('y-')) && v.t !== 'struct') return [`c:${encodeURIComponent(name)}`, indexToken(v)];
  return undefined;
}

/** Candidate uids from the indexes, or undefined when no criterion is indexed. */
async function candidates(store: Store, tenant: string, groups: CriteriaGroup[]): Promise<string[] | undefined> {
  const sets: Array<[string, string]> = [];
  let named: string | null | undefined;
  for (const g of groups) {
    for (const v of g.values) {
      if (g.name === 'Name') {
        const nv = v.t === 'text' ? v : field(v, Tag.NameValue);
        if (nv?.t !== 'text') continue;
        const uid = await store.uidByName(tenant, nv.v);
        if (named !== undefined && named !== uid) return [];
        named = uid;
        if (!uid) return [];
        continue;
      }
      const tok = exactToken(g.name, v);
      if (tok) sets.push(tok);
    }
  }
  if (named) return [named];
  if (sets.length === 0) return undefined;
  return store.intersect(sets, tenant);
}

export async function locate(core: Core, c: OpContext, req: lifecycleV1.LocateRequest): Promise<lifecycleV1.LocateResponse> {
  const ctx = await core.resolve(c, req.caller);
  const tenant = ctx.tenant.id;
  // Attribute Index values SHALL be ignored (4.9).
  const groups = groupCriteria(req.attributes.map((a) => {
    if (!a.name) throw invalidField('Locate: an attribute without a name');
    return { name: a.name, value: fromProto(a.value, `Locate attribute "${a.name}"`) };
  }));
  const max = Math.min(req.maximumItems || LOCATE_LIMIT, LOCATE_LIMIT);
  const offset = req.offsetItems;
  await core.materializeDue(tenant);

  if (groups.length === 0) {
    const total = await core.store.objectCount(tenant);
    const ids = offset < total ? await core.store.listObjectIds(tenant, offset, offset + max - 1) : [];
    return { locatedItems: total, uniqueIdentifiers: ids };
  }

  let ids = await candidates(core.store, tenant, groups);
  ids ??= await core.store.listObjectIds(tenant, 0, -1);
  const found: KeyRecord[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < ids.length; i += BATCH) {
    for (const obj of await core.store.getObjects(tenant, ids.slice(i, i + BATCH))) {
      if (!obj) continue;
      applyDueTransitions(obj.rec, now);
      if (matches(obj.rec, groups)) found.push(obj.rec);
    }
  }
  found.sort((a, b) => a.createdMs - b.createdMs || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  return { locatedItems: found.length, uniqueIdentifiers: found.slice(offset, offset + max).map((r) => r.uid) };
}
