// KMIP 1.4 §4.9 Locate (errors: §11.10), with Maximum Items and the
// KMIP 1.3 Offset Items, and KMIP 2.0's Storage Status Mask (§6.1.27) in
// every version: destroyed objects only when Destroyed Storage is asked for.
// Indexes narrow the candidates; every candidate is then matched against all
// criteria, so an index never decides alone.
import type { lifecycleV1 } from '@keywarden/proto';
import { State, StorageStatusMask, Tag } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { CriteriaGroup, groupCriteria, matches } from '../model/locate-match';
import type { KeyRecord } from '../model/record';
import { applyDueTransitions, DESTROYED_STATES, isDestroyed } from '../model/state';
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

const LIVE_STATES = [State.PreActive, State.Active, State.Deactivated, State.Compromised];

/**
 * Which objects the Storage Status Mask admits (KMIP 2.0 §6.1.27; its
 * values apply in 1.x too): On-line Storage is every object that is not
 * destroyed, Destroyed Storage the destroyed ones; keywarden archives
 * nothing, so Archival Storage adds none. Absent (0): On-line only, so
 * "locate everything, then destroy it" never meets an object already
 * destroyed.
 */
export function storageFilter(mask: number): { live: boolean; destroyed: boolean } {
  const m = mask || StorageStatusMask.OnLineStorage;
  return { live: (m & StorageStatusMask.OnLineStorage) !== 0, destroyed: (m & StorageStatusMask.DestroyedStorage) !== 0 };
}

const admitted = (f: { live: boolean; destroyed: boolean }, r: KeyRecord): boolean => (isDestroyed(r.state) ? f.destroyed : f.live);

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

/** Uids of the objects the State index lists in any of `states`, in creation order. */
async function statesIndexed(store: Store, tenant: string, states: number[]): Promise<string[]> {
  const oids = new Set<number>();
  for (const st of states) for (const o of await store.postingOids(tenant, 'state', String(st))) oids.add(o);
  return store.uidsOf(tenant, [...oids].sort((a, b) => a - b));
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
  const storage = storageFilter(req.storageStatusMask ?? 0);
  await core.materializeDue(tenant);

  let ids: string[] | undefined;
  if (groups.length === 0) {
    if (!storage.live && !storage.destroyed) return { locatedItems: 0, uniqueIdentifiers: [] };
    const u = await core.store.usage(tenant);
    if ((storage.live || u.objects === 0) && (storage.destroyed || u.destroyedObjects === 0)) {
      // Every object the tenant has is admitted: a listing, no record read.
      const total = u.objects + u.destroyedObjects;
      const all = offset < total ? await core.store.listObjectIds(tenant, offset, offset + max - 1) : [];
      return { locatedItems: total, uniqueIdentifiers: all };
    }
    // Some are not: the objects in the admitted states, each record checked below.
    ids = await statesIndexed(core.store, tenant, [...(storage.live ? LIVE_STATES : []), ...(storage.destroyed ? DESTROYED_STATES : [])]);
  } else {
    ids = await candidates(core.store, tenant, groups);
  }
  ids ??= await core.store.listObjectIds(tenant, 0, -1);
  const found: KeyRecord[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < ids.length; i += BATCH) {
    for (const obj of await core.store.getObjects(tenant, ids.slice(i, i + BATCH))) {
      if (!obj) continue;
      applyDueTransitions(obj.rec, now);
      if (admitted(storage, obj.rec) && matches(obj.rec, groups)) found.push(obj.rec);
    }
  }
  found.sort((a, b) => a.createdMs - b.createdMs || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  return { locatedItems: found.length, uniqueIdentifiers: found.slice(offset, offset + max).map((r) => r.uid) };
}
