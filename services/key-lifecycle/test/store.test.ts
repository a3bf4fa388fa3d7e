// The Redis layer against a real redis-server: atomic record writes with
// their indexes, Name uniqueness, optimistic concurrency under many writers,
// and no key material in Redis.
import Redis from 'ioredis';
import { createLogger } from '@keywarden/common';
import { ObjectType, State, Tag } from '@keywarden/kmip';
import { startRedis, TestRedis } from '../../../test/lib/redis';
import { PlaintextCache } from '../src/cache';
import { Core } from '../src/core';
import { addAttribute } from '../src/model/attributes';
import type { KeyRecord } from '../src/model/record';
import { activate } from '../src/model/state';
import { enumeration, text } from '../src/model/values';
import { Store, TenantRecord } from '../src/store/store';
import { Wrapping } from '../src/wrapping';

let redis: TestRedis;
let client: Redis;
let store: Store;
let core: Core;
const log = createLogger('test');

const tenant: TenantRecord = {
  id: 'acme', name: 'Acme', kind: 1, endpoint: 'http://127.0.0.1:1', iamEndpoint: '', instanceId: 'i', crkId: 'c',
  credentialRef: 'env:NONE', credentialSource: 'env:NONE', createdAt: new Date().toISOString(), status: 'active', shreddedAt: '',
};

function rec(uid: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  return {
    uid, tenant: 'acme', createdBy: 'f'.repeat(64), createdMs: Date.now(), objectType: ObjectType.SymmetricKey, state: State.PreActive,
    algorithm: 3, length: 256, usageMask: 12, keyFormatType: 1, initialDate: 1, lastChangeDate: 1, attrs: {},
    sealedRef: Buffer.from('sealed-ref').toString('base64'), crkVersion: 'v1', ...extra,
  };
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { enableAutoPipelining: true });
  store = new Store(client, log);
  // Not contacted by these tests: mutations never call crk-wrapping.
  core = new Core(store, new Wrapping('127.0.0.1:1', undefined), new PlaintextCache(0), log);
  await store.createTenant(tenant);
});

afterAll(async () => {
  core.wrapping.close();
  client.disconnect();
  await redis.stop();
});

it('creates a record once, with its indexes, and refuses to create it twice', async () => {
  const r = rec('k1');
  addAttribute(r, 'Object Group', 0, text('vsan'), 1);
  addAttribute(r, 'x-Vendor', 0, text('VMware, Inc.'), 1);
  expect(await store.writeObject(undefined, r)).toBe('OK');
  expect(await store.writeObject(undefined, r)).toBe('EXISTS');
  // In the creation-order index (object number → uid) with the other indexes.
  expect(await store.listObjectIds('acme', 0, -1)).toContain('k1');
  expect(await store.indexMembers('acme', 'state', String(State.PreActive))).toContain('k1');
  expect(await store.indexMembers('acme', 'group', 's:vsan')).toEqual(['k1']);
  expect(await store.indexMembers('acme', `c:${encodeURIComponent('x-Vendor')}`, 's:VMware, Inc.')).toEqual(['k1']);
});

it('moves index entries with the record and drops them with it', async () => {
  const r = rec('k2');
  await store.writeObject(undefined, r);
  const before = await store.getObject('acme', 'k2');
  const next = structuredClone(r);
  activate(next, 2);
  expect(await store.writeObject(before, next)).toBe('OK');
  expect(await store.indexMembers('acme', 'state', String(State.PreActive))).not.toContain('k2');
  expect(await store.indexMembers('acme', 'state', String(State.Active))).toContain('k2');
  // The version moved on: a write computed from the old one is refused.
  expect(await store.writeObject(before, next)).toBe('CONFLICT');
  const cur = await store.getObject('acme', 'k2');
  expect(await store.writeObject(cur, undefined)).toBe('OK');
  expect(await store.getObject('acme', 'k2')).toBeUndefined();
  expect(await store.indexMembers('acme', 'state', String(State.Active))).not.toContain('k2');
  expect(await store.listObjectIds('acme', 0, -1)).not.toContain('k2');
});

it('keeps Names unique within a tenant', async () => {
  const a = rec('n1');
  addAttribute(a, 'Name', 0, text('disk-1'), 1);
  const b = rec('n2');
  addAttribute(b, 'Name', 0, { t: 'struct', v: [{ tag: Tag.NameValue, value: text('disk-1') }, { tag: Tag.NameType, value: enumeration(1) }] }, 1);
  expect(await store.writeObject(undefined, a)).toBe('OK');
  expect(await store.writeObject(undefined, b)).toBe('TAKEN:disk-1');
  expect(await store.getObject('acme', 'n2')).toBeUndefined();
  expect(await store.uidByName('acme', 'disk-1')).toBe('n1');
});

it('refuses writes for a tenant being deleted', async () => {
  await store.createTenant({ ...tenant, id: 'gone', status: 'deleting' });
  expect(await store.writeObject(undefined, rec('g1', { tenant: 'gone' }))).toBe('NOTENANT');
});

it('applies concurrent updates from many callers one after the other', async () => {
  await store.writeObject(undefined, rec('c1'));
  const callers = 40;
  // Every Add Attribute lands, each with its own index.
  await Promise.all(Array.from({ length: callers }, async (_, i) =>
    core.mutate('acme', 'c1', await store.getObject('acme', 'c1'), (r, now) => addAttribute(r, 'x-caller', 0, text(`c${i}`), now))));
  const r = (await store.getObject('acme', 'c1'))?.rec as KeyRecord;
  const items = r.attrs['x-caller'].items;
  expect(items).toHaveLength(callers);
  expect(new Set(items.map((x) => x.i)).size).toBe(callers);
  expect(new Set(items.map((x) => (x.v as { v: string }).v)).size).toBe(callers);
  // Exactly one of many concurrent Activates succeeds.
  const acts = await Promise.allSettled(Array.from({ length: 20 }, async () =>
    core.mutate('acme', 'c1', await store.getObject('acme', 'c1'), (x, now) => activate(x, now))));
  expect(acts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
});

it('stores no key material, only the sealed reference', async () => {
  const all = await client.keys('kw:*');
  for (const k of all) {
    if ((await client.type(k)) !== 'hash') continue;
    const h = await client.hgetall(k);
    expect(JSON.stringify(h)).not.toMatch(/plaintext|keyMaterial|key_material/i);
  }
});

it('a create whose write already landed (a resent script answering EXISTS) succeeds; another object under that uid does not', async () => {
  const mine = rec('resent-1', { sealedRef: Buffer.from('sealed-A').toString('base64') });
  expect(await store.writeObject(undefined, mine)).toBe('OK'); // the first attempt, as Redis applied it
  await expect(core.persistNew(tenant, mine, Buffer.from('sealed-A'))).resolves.toBeUndefined();
  const other = rec('resent-1', { sealedRef: Buffer.from('sealed-B').toString('base64') });
  await expect(core.persistNew(tenant, other, Buffer.from('sealed-B'))).rejects.toMatchObject({ message: expect.stringMatching(/could not store the new object \(EXISTS\)/) });
  expect((await store.getObject('acme', 'resent-1'))?.rec.sealedRef).toBe(mine.sealedRef);
});
