import { isGrpcError, ServiceError } from '@keywarden/common';
import type { adminV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { adminError } from '../errors';
import { allAttributes, nameValues } from '../model/attributes';
import type { KeyRecord } from '../model/record';
import { applyDueTransitions, isDestroyed } from '../model/state';
import { attributeOut } from '../operations/common';
import { requireTenant } from './tenants';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export function keyInfo(r: KeyRecord): adminV1.KeyInfo {
  applyDueTransitions(r, Math.floor(Date.now() / 1000));
  return {
    uniqueIdentifier: r.uid,
    tenantId: r.tenant,
    objectType: r.objectType,
    state: r.state,
    cryptographicAlgorithm: r.algorithm ?? 0,
    cryptographicLength: r.length ?? 0,
    cryptographicUsageMask: r.usageMask,
    names: nameValues(r),
    crkVersion: r.crkVersion,
    createdBy: r.createdBy,
    attributes: allAttributes(r).map((a) => attributeOut(a.name, a.instance)),
  };
}

/** Page tokens are opaque: base64url of the next offset in creation order. */
function offsetOf(token: string): number {
  if (!token) return 0;
  const n = Number(Buffer.from(token, 'base64url').toString());
  if (!Number.isSafeInteger(n) || n < 0) throw adminError.invalid('page_token is not one this server issued');
  return n;
}

/** The values of a custom text attribute (x-Name, ...) of a record. */
function textValues(r: KeyRecord, name: string): string[] {
  return (r.attrs[name]?.items ?? []).flatMap((i) => (i.v.t === 'text' ? [i.v.v] : []));
}

const MAX_FILTERS = 8;
/** Keys looked at per page when filtering, at most: a page answers with fewer matches rather than scan a whole region. */
const MAX_SCAN = 10_000;

export async function listKeys(core: Core, req: adminV1.ListKeysRequest): Promise<adminV1.ListKeysResponse> {
  const t = await requireTenant(core, req.tenantId);
  const limit = Math.min(req.limit || DEFAULT_LIMIT, MAX_LIMIT);
  const offset = offsetOf(req.pageToken);
  const filters = Object.entries(req.attributes ?? {});
  if (filters.length > MAX_FILTERS) throw adminError.invalid(`at most ${MAX_FILTERS} attribute filters`);
  if (filters.length === 0) {
    const ids = await core.store.listObjectIds(t.id, offset, offset + limit);
    const page = ids.slice(0, limit);
    const objs = await core.store.getObjects(t.id, page);
    return {
      keys: objs.filter((o) => o !== undefined).map((o) => keyInfo(o.rec)),
      nextPageToken: ids.length > limit ? Buffer.from(String(offset + limit)).toString('base64url') : '',
    };
  }
  // Filtered: walk the tenant's keys in creation order until `limit` match.
  const keys: adminV1.KeyInfo[] = [];
  let at = offset;
  const chunk = 200;
  for (;;) {
    const ids = await core.store.listObjectIds(t.id, at, at + chunk - 1);
    if (ids.length === 0) return { keys, nextPageToken: '' };
    const objs = await core.store.getObjects(t.id, ids);
    for (let i = 0; i < objs.length; i++) {
      const o = objs[i];
      at++;
      if (o && filters.every(([name, value]) => textValues(o.rec, name).includes(value))) keys.push(keyInfo(o.rec));
      if (keys.length === limit) {
        const more = i < objs.length - 1 || ids.length === chunk;
        return { keys, nextPageToken: more ? Buffer.from(String(at)).toString('base64url') : '' };
      }
    }
    if (ids.length < chunk) return { keys, nextPageToken: '' };
    if (at - offset >= MAX_SCAN) return { keys, nextPageToken: Buffer.from(String(at)).toString('base64url') };
  }
}

export async function getKey(core: Core, req: adminV1.GetKeyRequest): Promise<adminV1.KeyInfo> {
  const t = await requireTenant(core, req.tenantId);
  const o = req.uniqueIdentifier ? await core.store.getObject(t.id, req.uniqueIdentifier) : undefined;
  if (!o) throw adminError.notFound(`tenant "${t.id}" has no key "${req.uniqueIdentifier}"`);
  return keyInfo(o.rec);
}

/**
 * Whether a KMIP Get of the key would be served now, asked of the provider
 * (never the cache); the material is zeroed at once and never leaves here.
 */
export async function probeKey(core: Core, req: adminV1.ProbeKeyRequest): Promise<adminV1.ProbeKeyResponse> {
  const t = await requireTenant(core, req.tenantId);
  const o = req.uniqueIdentifier ? await core.store.getObject(t.id, req.uniqueIdentifier) : undefined;
  if (!o) throw adminError.notFound(`tenant "${t.id}" has no key "${req.uniqueIdentifier}"`);
  const rec = core.current(o, req.uniqueIdentifier);
  try {
    if (isDestroyed(rec.state)) return { usable: false, detail: 'the object has been destroyed; its key material no longer exists' };
    core.assertNotShredded(t);
    (await core.unseal(t, rec, { fresh: true })).fill(0);
    return { usable: true, detail: '' };
  } catch (e) {
    if (e instanceof ServiceError) {
      // Operators also get what the provider said (a KMIP client reads only the first part).
      const cause = (e as { cause?: unknown }).cause;
      return { usable: false, detail: isGrpcError(cause) && cause.details ? `${e.message} (${cause.details})` : e.message };
    }
    throw e;
  }
}
