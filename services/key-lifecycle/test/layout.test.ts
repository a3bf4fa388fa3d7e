// The record layout of format 2 against a real redis-server: an attribute
// change writes the field it changes (the AOF grows by the change, not by
// the record), usage is counted exactly with the writes and no concurrent
// writer overshoots a quota, a vCenter-shaped key stays small, and data in
// the layout before it is migrated at start and keeps working.
import fs from 'fs';
import path from 'path';
import Redis from 'ioredis';
import { createLogger } from '@keywarden/common';
import { ObjectType, State } from '@keywarden/kmip';
import { startRedis, TestRedis } from '../../../test/lib/redis';
import { PlaintextCache } from '../src/cache';
import { Core } from '../src/core';
import { addAttribute, deleteAttribute, modifyAttribute } from '../src/model/attributes';
import type { KeyRecord } from '../src/model/record';
import { activate, destroy } from '../src/model/state';
import { text } from '../src/model/values';
import { attributeBytes } from '../src/store/codec';
import { migrateLayout } from '../src/store/migrate';
import { Store, TenantRecord } from '../src/store/store';
import { Wrapping } from '../src/wrapping';
import { writeLegacy } from './legacy-layout';

const log = createLogger('test', 'warn');
const REDIS_ARGS = ['--hash-max-listpack-entries', '512', '--hash-max-listpack-value', '1024'];

function tenantRec(id: string, quota?: TenantRecord['quota']): TenantRecord {
  return {
    id, name: id, kind: 1, endpoint: 'http://127.0.0.1:1', iamEndpoint: '', instanceId: 'i', crkId: 'c',
    credentialRef: 'env:NONE', credentialSource: 'env:NONE', createdAt: new Date().toISOString(), status: 'active', shreddedAt: '', ...(quota ? { quota } : {}),
  };
}

const SEALED = Buffer.concat([Buffer.from('KW\x01\x01'), Buffer.alloc(111, 7)]).toString('base64');

function rec(tenant: string, uid: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  const now = Math.floor(Date.now() / 1000);
  return {
    uid, tenant, createdBy: 'f'.repeat(64), createdMs: Date.now(), objectType: ObjectType.SymmetricKey, state: State.PreActive,
    algorithm: 3, length: 256, usageMask: 12, keyFormatType: 1, initialDate: now, lastChangeDate: now, originalCreationDate: now, attrs: {},
    sealedRef: SEALED, crkVersion: '0f5c2a8e-3b1d-4c6e-9a7f-2d4e6f8a0b1c', ...extra,
  };
}

/** A key as vCenter leaves it: three tags, Active, three more (x-Identifier and x-Name its own). */
function vcenterKey(tenant: string, i: number): KeyRecord {
  const r = rec(tenant, `564d0000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const now = r.initialDate;
  for (const [n, v] of [['x-Product_Version', '7.0.3 build-19480866'], ['x-Vendor', 'VMware, Inc.'], ['x-Product', 'VMware vSphere']]) addAttribute(r, n, 0, text(v), now);
  activate(r, now);
  for (const [n, v] of [['x-Identifier', `564d${i}-aaaa-bbbb-cccc-0123456789ab`], ['x-Component', 'Virtual Machine'], ['x-Name', `vm-${i}`]]) addAttribute(r, n, 0, text(v), now);
  return r;
}

let redis: TestRedis;
let client: Redis;
let store: Store;
let core: Core;

beforeAll(async () => {
  redis = await startRedis({ args: REDIS_ARGS });
  client = new Redis(redis.url, { enableAutoPipelining: true });
  store = new Store(client, log);
  core = new Core(store, new Wrapping('127.0.0.1:1', undefined), new PlaintextCache(0), log);
});

afterAll(async () => {
  core.wrapping.close();
  client.disconnect();
  await redis.stop();
});

function aofBytes(): number {
  const d = path.join(redis.dir, 'appendonlydir');
  return fs.readdirSync(d).reduce((n, f) => n + fs.statSync(path.join(d, f)).size, 0);
}

/** What the tenant's counters say, and what its records add up to. */
async function counted(t: string): Promise<{ counters: object; records: object }> {
  const objs = (await store.getObjects(t, await store.listObjectIds(t, 0, -1))).flatMap((o) => (o ? [o.rec] : []));
  const live = objs.filter((r) => r.state !== State.Destroyed && r.state !== State.DestroyedCompromised).length;
  return {
    counters: await store.usage(t),
    records: { objects: live, attributeBytes: objs.reduce((n, r) => n + attributeBytes(r).all, 0), destroyedObjects: objs.length - live },
  };
}

describe('writes proportional to the change', () => {
  it('an Add Attribute on a record holding 400 KB of attributes grows the AOF by about its own size', async () => {
    // Its own per-object quota lets one key hold that much (the default, 64 KiB, would refuse it).
    await store.createTenant(tenantRec('big', { objectCustomBytes: 1024 * 1024 }));
    await store.writeObject(undefined, rec('big', 'fat'));
    for (let i = 0; i < 50; i++) {
      await core.mutate('big', 'fat', await store.getObject('big', 'fat'), (r, now) => addAttribute(r, `x-blob-${i}`, 0, text('x'.repeat(8000)), now));
    }
    const before = aofBytes();
    await core.mutate('big', 'fat', await store.getObject('big', 'fat'), (r, now) => addAttribute(r, 'x-small', 0, text('hello'), now));
    const grown = aofBytes() - before;
    // The record is over 400,000 bytes; the change (field, value, version, last change date, index entry) a few hundred.
    expect(grown).toBeLessThan(1500);
    await core.mutate('big', 'fat', await store.getObject('big', 'fat'), (r, now) => modifyAttribute(r, 'x-small', 0, text('hello again'), now));
    await core.mutate('big', 'fat', await store.getObject('big', 'fat'), (r, now) => deleteAttribute(r, 'x-blob-3', 0, now));
    expect(aofBytes() - before).toBeLessThan(4500);
    const r = (await store.getObject('big', 'fat'))?.rec as KeyRecord;
    expect(r.attrs['x-small'].items).toEqual([{ i: 0, v: text('hello again') }]);
    expect(r.attrs['x-blob-3']).toBeUndefined();
    expect(Object.keys(r.attrs)).toHaveLength(50);
  });

  it('keeps Attribute Indexes across deletes of the highest one (never reused)', async () => {
    await store.writeObject(undefined, rec('big', 'idx'));
    for (const v of ['a', 'b', 'c']) await core.mutate('big', 'idx', await store.getObject('big', 'idx'), (r, now) => addAttribute(r, 'x-multi', 0, text(v), now));
    await core.mutate('big', 'idx', await store.getObject('big', 'idx'), (r, now) => deleteAttribute(r, 'x-multi', 2, now));
    const { out } = await core.mutate('big', 'idx', await store.getObject('big', 'idx'), (r, now) => addAttribute(r, 'x-multi', 0, text('d'), now));
    expect(out.i).toBe(3);
  });
});

describe('usage and quotas', () => {
  it('counts usage exactly through creates, attribute changes, destroy and delete', async () => {
    await store.createTenant(tenantRec('counted'));
    for (let i = 0; i < 5; i++) expect(await store.writeObject(undefined, vcenterKey('counted', i))).toBe('OK');
    const uids = await store.listObjectIds('counted', 0, -1);
    await core.mutate('counted', uids[0], await store.getObject('counted', uids[0]), (r, now) => modifyAttribute(r, 'x-Name', 0, text('a-much-longer-vm-name'), now));
    await core.mutate('counted', uids[1], await store.getObject('counted', uids[1]), (r, now) => deleteAttribute(r, 'x-Vendor', 0, now));
    await core.mutate('counted', uids[2], await store.getObject('counted', uids[2]), (r, now) => { r.state = State.Deactivated; destroy(r, now); });
    expect(await store.writeObject(await store.getObject('counted', uids[3]), undefined)).toBe('OK');
    const c = await counted('counted');
    expect(c.counters).toEqual(c.records);
    expect(c.counters).toMatchObject({ objects: 3, destroyedObjects: 1 });
  });

  it('lets no concurrent writers overshoot the objects and attribute-bytes quotas, and changes nothing when refusing', async () => {
    await store.createTenant(tenantRec('tight', { objects: 10, attributeBytes: 2000 }));
    const creates = await Promise.all(Array.from({ length: 40 }, (_, i) => store.writeObject(undefined, rec('tight', `k${i}`))));
    expect(creates.filter((r) => r === 'OK')).toHaveLength(10);
    expect(creates.filter((r) => r.startsWith('QUOTA:objects:10:'))).toHaveLength(30);
    expect(await store.listObjectIds('tight', 0, -1)).toHaveLength(10);
    const uids = await store.listObjectIds('tight', 0, -1);
    // 60 concurrent Add Attribute of 100-byte values (about 110 bytes stored each) on 10 keys: at most 2000 bytes land.
    const adds = await Promise.allSettled(Array.from({ length: 60 }, async (_, i) => {
      const uid = uids[i % 10];
      return core.mutate('tight', uid, await store.getObject('tight', uid), (r, now) => addAttribute(r, 'x-tag', 0, text(`${i}`.padEnd(100, '.')), now));
    }));
    const refused = adds.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason as Error);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) expect(e.message).toMatch(/tenant "tight" is at its quota of 2000 attribute bytes .*nothing was changed/);
    const c = await counted('tight');
    expect(c.counters).toEqual(c.records);
    expect((c.counters as { attributeBytes: number }).attributeBytes).toBeLessThanOrEqual(2000);
    expect((c.counters as { attributeBytes: number }).attributeBytes).toBeGreaterThan(2000 - 120);
    // Decreases pass at the quota, and destroying frees an object.
    const v = await store.getObject('tight', uids[0]);
    await core.mutate('tight', uids[0], v, (r, now) => { if (r.attrs['x-tag']) deleteAttribute(r, 'x-tag', r.attrs['x-tag'].items[0].i, now); });
    await core.mutate('tight', uids[1], await store.getObject('tight', uids[1]), (r, now) => destroy(r, now));
    expect(await store.writeObject(undefined, rec('tight', 'after-destroy'))).toBe('OK');
    expect(await store.writeObject(undefined, rec('tight', 'one-too-many'))).toMatch(/^QUOTA:objects:10:10$/);
  });

  it('refuses a custom attribute past the per-object quota without changing the record', async () => {
    await store.createTenant(tenantRec('percap', { objectCustomBytes: 1024 }));
    await store.writeObject(undefined, rec('percap', 'o'));
    await core.mutate('percap', 'o', await store.getObject('percap', 'o'), (r, now) => addAttribute(r, 'x-a', 0, text('a'.repeat(600)), now));
    const before = await store.getObject('percap', 'o');
    await expect(core.mutate('percap', 'o', before, (r, now) => addAttribute(r, 'x-b', 0, text('b'.repeat(600)), now)))
      .rejects.toMatchObject({ message: expect.stringMatching(/would exceed tenant "percap"'s quota of 1024 custom attribute bytes per object/) });
    expect(await store.getObject('percap', 'o')).toEqual(before);
  });
});

describe('size', () => {
  it('keeps a vCenter-shaped key within 700 bytes of Redis memory at 20,000 keys (audit stream apart)', async () => {
    await store.createTenant(tenantRec('vc'));
    // Warm the tenant's posting hashes, then measure what further keys add.
    let i = 0;
    const load = async (n: number) => {
      const end = i + n;
      await Promise.all(Array.from({ length: 64 }, async () => { while (i < end) expect(await store.writeObject(undefined, vcenterKey('vc', i++))).toBe('OK'); }));
    };
    await load(10_000);
    const used = async () => Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1]);
    const before = await used();
    await load(10_000);
    const perKey = ((await used()) - before) / 10_000;
    expect(perKey).toBeLessThanOrEqual(700);
    // Every index Locate uses still answers.
    expect(await store.indexMembers('vc', `c:${encodeURIComponent('x-Name')}`, 's:vm-12345')).toHaveLength(1);
    expect(await store.indexCount('vc', 'state', String(State.Active))).toBe(20_000);
    expect(await store.intersect([['type', '2'], [`c:${encodeURIComponent('x-Vendor')}`, 's:VMware, Inc.']], 'vc')).toHaveLength(20_000);
  }, 120_000);
});

describe('data in the layout before record format 2', () => {
  it('is migrated at start: records, indexes, creation order and usage; a second start does nothing', async () => {
    const old = await startRedis({ args: REDIS_ARGS });
    const c = new Redis(old.url, { enableAutoPipelining: true });
    try {
      const s = new Store(c, log);
      await s.createTenant(tenantRec('legacy'));
      const recs = Array.from({ length: 30 }, (_, i) => ({ ...vcenterKey('legacy', i), createdMs: 1_700_000_000_000 + i }));
      addAttribute(recs[0], 'Name', 0, text('disk-0'), 1);
      recs[1].state = State.Destroyed;
      for (const r of [...recs].reverse()) await writeLegacy(c, r);
      expect(await c.exists('kw:t:legacy:objs')).toBe(1);

      const first = await migrateLayout(s, log);
      expect(first.migrated).toBe(30);
      expect(await c.keys('kw:t:legacy:ix:*')).toEqual([]);
      expect(await c.exists('kw:t:legacy:objs')).toBe(0);
      expect(await s.listObjectIds('legacy', 0, -1)).toEqual(recs.map((r) => r.uid));
      const back = await s.getObject('legacy', recs[5].uid);
      expect(back?.legacy).toBe(false);
      expect({ ...back?.rec, oid: undefined }).toEqual({ ...recs[5], oid: undefined });
      expect(await s.uidByName('legacy', 'disk-0')).toBe(recs[0].uid);
      expect(await s.indexMembers('legacy', `c:${encodeURIComponent('x-Name')}`, 's:vm-7')).toEqual([recs[7].uid]);
      expect(await s.usage('legacy')).toEqual({ objects: 29, destroyedObjects: 1, attributeBytes: recs.reduce((n, r) => n + attributeBytes(r).all, 0) });
      expect((await migrateLayout(s, log)).migrated).toBe(0);

      // A record an older replica writes afterwards is converted by its next write.
      const late = vcenterKey('legacy', 99);
      await writeLegacy(c, late);
      const got = await s.getObject('legacy', late.uid);
      expect(got?.legacy).toBe(true);
      await new Core(s, core.wrapping, new PlaintextCache(0), log).mutate('legacy', late.uid, got, (r, now) => addAttribute(r, 'x-Note', 0, text('converted'), now));
      expect((await s.getObject('legacy', late.uid))?.legacy).toBe(false);
      expect(await c.sismember(`kw:t:legacy:ix:c:${encodeURIComponent('x-Name')}:s:vm-99`, late.uid)).toBe(0);
      expect(await s.indexMembers('legacy', `c:${encodeURIComponent('x-Note')}`, 's:converted')).toEqual([late.uid]);
      expect((await s.usage('legacy')).objects).toBe(30);
    } finally {
      c.disconnect();
      await old.stop();
    }
  });
});
