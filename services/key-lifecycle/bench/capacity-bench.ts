// What a key costs in Redis, and whether Get and Locate stay flat as a
// region fills (docs/key-lifecycle.md, "Capacity"; docs/deployment.md,
// "Sizing Redis"). Loads BENCH_KEYS (200,000) vCenter-shaped keys into one
// tenant: Create (AES-256, Encrypt|Decrypt), three Add Attribute
// (x-Product_Version, x-Vendor, x-Product), Activate, three more (x-Identifier,
// x-Component, x-Name; unique per VM where vCenter makes them so).
//
// The first 1,000 keys go through the whole conversation (every write
// through the record update of the operations, with its audit entry); the
// rest are written through the store in one write each, in the same final
// state: the same hash fields and index entries, so the same bytes (the
// benchmark checks that both kinds cost the same), without 1.6 million
// round trips. No gRPC and no crk-wrapping: neither changes what Redis holds
// (the sealed reference has the size Key Protect's has).
//
// Reports: Redis bytes per key (used_memory, and MEMORY USAGE per part:
// record, order, postings), the audit stream's bytes per entry, AOF bytes
// per Add Attribute, Get (the caller-and-record script of every Get) and
// Locate (by x-Identifier) latency at each checkpoint, and AOF rewrite time;
// with the layout before record format 2 loaded the same way for comparison
// (BENCH_LEGACY_KEYS, 20,000).
//
//   npm run bench:capacity -w services/key-lifecycle
//   BENCH_KEYS=20000 npm run bench:capacity -w services/key-lifecycle
import { randomBytes, randomUUID } from 'crypto';
import fs from 'fs';
import path from 'path';
import Redis from 'ioredis';
import { createLogger } from '@keywarden/common';
import { activate, addAttribute, Core, locate, PlaintextCache, Store, Wrapping } from '@keywarden/key-lifecycle';
import type { KeyRecord } from '@keywarden/key-lifecycle';
import { startRedis, TestRedis } from '../../../test/lib/redis';

const KEYS = Number(process.env.BENCH_KEYS ?? 200_000);
const LEGACY_KEYS = Number(process.env.BENCH_LEGACY_KEYS ?? 20_000);
const CHECKPOINTS = [1_000, 10_000, 100_000, 200_000].filter((n) => n <= KEYS);
if (!CHECKPOINTS.includes(KEYS)) CHECKPOINTS.push(KEYS);
const CONVERSATIONS = Math.min(1_000, KEYS);
const IN_FLIGHT = 128;
const SAMPLES = 2_000;

/** What docs/deployment.md asks of Redis: small hashes kept as listpacks. */
export const REDIS_ARGS = ['--hash-max-listpack-entries', '512', '--hash-max-listpack-value', '1024'];

const TENANT = 'bench';
const FP = 'ab'.repeat(32);
const quiet = createLogger('bench', 'warn');

const text = (v: string) => ({ t: 'text' as const, v });
const TAGS: Array<[string, string]> = [['x-Product_Version', '7.0.3 build-19480866'], ['x-Vendor', 'VMware, Inc.'], ['x-Product', 'VMware vSphere']];
const vmTags = (i: number): Array<[string, string]> => [
  ['x-Identifier', `564d${i.toString(16).padStart(4, '0')}-aaaa-bbbb-cccc-${randomBytes(6).toString('hex')}`],
  ['x-Component', 'Virtual Machine'],
  ['x-Name', `vm-${i}`],
];

/** A sealed reference of Key Protect's shape: "KW", format, kind, CRK id, CRK version, standard key id (UUIDs). */
function sealedRef(crk: string, version: string): string {
  const s = (x: string) => Buffer.concat([Buffer.from([x.length]), Buffer.from(x)]);
  return Buffer.concat([Buffer.from([0x4b, 0x57, 1, 1]), s(crk), s(version), s(randomUUID())]).toString('base64');
}

const CRK = randomUUID();
const CRKV = randomUUID();

/** A key as Create leaves it (Pre-Active, the template's algorithm, length and mask). */
function created(uid: string): KeyRecord {
  const now = Math.floor(Date.now() / 1000);
  return {
    uid, tenant: TENANT, createdBy: FP, createdMs: Date.now(), objectType: 2, state: 1, algorithm: 3, length: 256, usageMask: 12, keyFormatType: 1,
    initialDate: now, lastChangeDate: now, originalCreationDate: now, attrs: {}, sealedRef: sealedRef(CRK, CRKV), crkVersion: CRKV,
  };
}

/** The same key as the conversation leaves it: tagged and Active. */
function finished(uid: string, i: number): KeyRecord {
  const r = created(uid);
  const now = r.initialDate;
  for (const [n, v] of TAGS) addAttribute(r, n, 0, text(v), now);
  activate(r, now);
  for (const [n, v] of vmTags(i)) addAttribute(r, n, 0, text(v), now);
  return r;
}

async function parallel(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

const q = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0; };
const ms = (ns: bigint) => Number(ns) / 1e6;

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    lat.push(ms(process.hrtime.bigint() - t));
  }
  return { p50: q(lat, 0.5), p99: q(lat, 0.99) };
}

async function info(r: Redis, section: string, key: string): Promise<number> {
  return Number(new RegExp(`^${key}:(\\d+)`, 'm').exec(await r.info(section))?.[1] ?? 0);
}

function aofBytes(dir: string): number {
  const d = path.join(dir, 'appendonlydir');
  return fs.existsSync(d) ? fs.readdirSync(d).reduce((n, f) => n + fs.statSync(path.join(d, f)).size, 0) : 0;
}

/** Sum of MEMORY USAGE of the keys matching a pattern. */
async function usageOf(r: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    const p = r.pipeline();
    for (const k of batch) p.memory('USAGE', k, 'SAMPLES', '0');
    for (const [, v] of (await p.exec()) ?? []) bytes += Number(v ?? 0);
    keys += batch.length;
  } while (cursor !== '0');
  return { keys, bytes };
}

async function aofRewrite(r: Redis): Promise<number> {
  while ((await info(r, 'persistence', 'aof_rewrite_in_progress')) || (await info(r, 'persistence', 'aof_rewrite_scheduled'))) await new Promise((x) => setTimeout(x, 50));
  const t = Date.now();
  await r.bgrewriteaof();
  await new Promise((x) => setTimeout(x, 50));
  while ((await info(r, 'persistence', 'aof_rewrite_in_progress')) || (await info(r, 'persistence', 'aof_rewrite_scheduled'))) await new Promise((x) => setTimeout(x, 20));
  return Date.now() - t;
}

async function current(redis: TestRedis): Promise<void> {
  const r = new Redis(redis.url, { enableAutoPipelining: true });
  const store = new Store(r, quiet, { quota: { objects: 100_000_000, attributeBytes: 64 * 1024 ** 3, objectCustomBytes: 65536 } });
  const wrapping = new Wrapping('127.0.0.1:1', undefined);
  const core = new Core(store, wrapping, new PlaintextCache(0), quiet);
  try {
    await store.createTenant({
      id: TENANT, name: TENANT, kind: 1, endpoint: 'http://127.0.0.1:1', iamEndpoint: '', instanceId: 'i', crkId: CRK,
      credentialRef: 'env:KEYWARDEN_CRED_BENCH', credentialSource: 'env:KEYWARDEN_CRED_BENCH', createdAt: new Date().toISOString(), status: 'active', shreddedAt: '',
    });
    await store.addCertificate({ fingerprint: FP, tenant: TENANT, subject: 'CN=vcenter', issuer: 'CN=vcenter', notBefore: '', notAfter: '', addedAt: '', clientAuth: true });
    const uids: string[] = [];
    const identifiers: string[] = [];
    const audit = (op: string, uid: string) => store.audit({ tenant: TENANT, cert: FP, op, uid, result: 'ok', time: new Date().toISOString() });

    // The whole conversation for the first keys, each write as the operations make it.
    const aof0 = aofBytes(redis.dir);
    let addAttributeAof = 0;
    const base = await info(r, 'memory', 'used_memory');
    await parallel(CONVERSATIONS, async (i) => {
      const uid = randomUUID();
      const rec = created(uid);
      if ((await store.writeObject(undefined, rec)) !== 'OK') throw new Error('create failed');
      audit('Create', uid);
      audit('GetAttributes', uid);
      for (const [n, v] of TAGS) {
        await core.mutate(TENANT, uid, await store.getObject(TENANT, uid), (x, now) => addAttribute(x, n, 0, text(v), now));
        audit('AddAttribute', uid);
      }
      audit('Get', uid);
      audit('GetAttributes', uid);
      await core.mutate(TENANT, uid, await store.getObject(TENANT, uid), (x, now) => activate(x, now));
      audit('Activate', uid);
      const tags = vmTags(i);
      for (const [n, v] of tags) {
        await core.mutate(TENANT, uid, await store.getObject(TENANT, uid), (x, now) => addAttribute(x, n, 0, text(v), now));
        audit('AddAttribute', uid);
      }
      uids[i] = uid;
      identifiers[i] = tags[0][1];
    });
    const aofPerKey = (aofBytes(redis.dir) - aof0) / CONVERSATIONS;
    // One more Add Attribute on a key, alone: what the AOF grows by (the audit entries sent so far are in).
    await r.ping();
    {
      const before = aofBytes(redis.dir);
      await core.mutate(TENANT, uids[0], await store.getObject(TENANT, uids[0]), (x, now) => addAttribute(x, 'x-Note', 0, text('moved to cluster B'), now));
      addAttributeAof = aofBytes(redis.dir) - before;
    }
    const auditEntries = await r.xlen('kw:audit');
    const auditBytes = Number(await r.memory('USAGE', 'kw:audit', 'SAMPLES', '0'));
    const conversationBytes = ((await info(r, 'memory', 'used_memory')) - base - auditBytes) / CONVERSATIONS;

    console.log(`capacity bench: ${KEYS} vCenter-shaped keys in one tenant; Redis ${REDIS_ARGS.join(' ')}, AOF appendfsync always`);
    console.log(`first ${CONVERSATIONS} keys through the whole conversation (8 writes each): ${conversationBytes.toFixed(0)} bytes of Redis memory per key (audit stream apart), AOF ${aofPerKey.toFixed(0)} bytes per key`);
    console.log(`one Add Attribute (18-byte value) on a key: AOF +${addAttributeAof} bytes`);
    console.log(`audit stream: ${auditEntries} entries, ${(auditBytes / auditEntries).toFixed(0)} bytes per entry (11 entries per key conversation; counted apart, trimmed by length and age)`);

    // The rest in one write each, checkpoint by checkpoint.
    let n = CONVERSATIONS;
    const fastBase = await info(r, 'memory', 'used_memory');
    const rows: string[] = [];
    for (const cp of CHECKPOINTS) {
      const from = n;
      await parallel(cp - from, async (j) => {
        const i = from + j;
        const uid = randomUUID();
        const rec = finished(uid, i);
        if ((await store.writeObject(undefined, rec)) !== 'OK') throw new Error('write failed');
        uids[i] = uid;
        identifiers[i] = (rec.attrs['x-Identifier'].items[0].v as { v: string }).v;
      });
      n = cp;
      if (from === CONVERSATIONS && cp > from) {
        const fastPerKey = ((await info(r, 'memory', 'used_memory')) - fastBase) / (cp - from);
        console.log(`keys ${from + 1}..${cp} written in one write each: ${fastPerKey.toFixed(0)} bytes per key (same final state)`);
      }
      const used = await info(r, 'memory', 'used_memory');
      const pick = (k: number) => uids[(k * 7919) % cp];
      await timed(200, (k) => store.loadContext(FP, pick(k)));
      const get = await timed(SAMPLES, (k) => store.loadContext(FP, pick(k)));
      const loc = await timed(500, async (k) => {
        const c = { op: 'Locate', fingerprint: '' };
        const res = await locate(core, c, { caller: { certFingerprint: FP }, attributes: [{ name: 'x-Identifier', index: 0, value: { textString: identifiers[(k * 7919) % cp] } }], maximumItems: 0, offsetItems: 0, storageStatusMask: 0, objectGroupMember: 0 } as never);
        if (res.uniqueIdentifiers.length !== 1) throw new Error('locate found no key');
      });
      rows.push(`${String(cp).padStart(7)} keys  used_memory ${(used / 2 ** 20).toFixed(1).padStart(7)} MiB  Get p50 ${get.p50.toFixed(3)} ms p99 ${get.p99.toFixed(3)} ms  Locate(x-Identifier) p50 ${loc.p50.toFixed(3)} ms p99 ${loc.p99.toFixed(3)} ms`);
      console.log(rows[rows.length - 1]);
    }

    // Where the bytes are, at the end.
    const used = await info(r, 'memory', 'used_memory');
    const empty = base;
    const rec = await usageOf(r, `kw:t:${TENANT}:obj:*`);
    const ord = await usageOf(r, `kw:t:${TENANT}:ord:*`);
    const px = await usageOf(r, `kw:t:${TENANT}:px:*`);
    const pb = await usageOf(r, `kw:t:${TENANT}:pb:*`);
    const names = await usageOf(r, `kw:t:${TENANT}:names`);
    const per = (b: number) => (b / n).toFixed(0);
    console.log(`at ${n} keys: ${per(used - empty - auditBytes)} bytes per key (used_memory, audit stream apart), of which MEMORY USAGE:`);
    console.log(`  record hash ${per(rec.bytes)}, creation order ${per(ord.bytes)} (${ord.keys} hashes), postings ${per(px.bytes)} (${px.keys} hashes) + bitmaps ${per(pb.bytes)} (${pb.keys}), names ${per(names.bytes)}; the rest is Redis' main dictionary (about 40 bytes a key)`);
    const encoding = await r.object('ENCODING', `kw:t:${TENANT}:obj:${uids[n - 1]}`);
    console.log(`  a record hash is a ${encoding} of ${await r.hlen(`kw:t:${TENANT}:obj:${uids[n - 1]}`)} fields, ${await r.memory('USAGE', `kw:t:${TENANT}:obj:${uids[n - 1]}`)} bytes`);
    const aofBefore = aofBytes(redis.dir);
    const rewriteMs = await aofRewrite(r);
    console.log(`AOF ${(aofBefore / 2 ** 20).toFixed(1)} MiB before BGREWRITEAOF, ${(aofBytes(redis.dir) / 2 ** 20).toFixed(1)} MiB after; rewrite took ${rewriteMs} ms`);
  } finally {
    wrapping.close();
    r.disconnect();
  }
}

/** The layout before record format 2, for the same keys (what tenants' keys cost until this change). */
async function legacy(redis: TestRedis): Promise<void> {
  const r = new Redis(redis.url, { enableAutoPipelining: true });
  try {
    const base = await info(r, 'memory', 'used_memory');
    const sp = `kw:t:${TENANT}:`;
    await parallel(LEGACY_KEYS, async (i) => {
      const uid = randomUUID();
      const rec = finished(uid, i);
      const m = r.multi();
      m.hset(`${sp}obj:${uid}`, 'ver', 8, 'rec', JSON.stringify(rec));
      m.zadd(`${sp}objs`, rec.createdMs, uid);
      for (const [attr, token] of [['type', '2'], ['state', '2'], ['alg', '3'], ['crkv', encodeURIComponent(CRKV)]]) m.sadd(`${sp}ix:${attr}:${token}`, uid);
      for (const [name, b] of Object.entries(rec.attrs)) m.sadd(`${sp}ix:c:${encodeURIComponent(name)}:s:${(b.items[0].v as { v: string }).v}`, uid);
      await m.exec();
    });
    const per = ((await info(r, 'memory', 'used_memory')) - base) / LEGACY_KEYS;
    const recs = await usageOf(r, `${sp}obj:*`);
    const ix = await usageOf(r, `${sp}ix:*`);
    const objs = await usageOf(r, `${sp}objs`);
    console.log(`layout before record format 2, ${LEGACY_KEYS} keys of the same final state: ${per.toFixed(0)} bytes per key: record ${(recs.bytes / LEGACY_KEYS).toFixed(0)}, index sets ${(ix.bytes / LEGACY_KEYS).toFixed(0)} (${ix.keys} sets), creation order ${(objs.bytes / LEGACY_KEYS).toFixed(0)}`);
  } finally {
    r.disconnect();
  }
}

async function main(): Promise<void> {
  const redis = await startRedis({ args: REDIS_ARGS });
  try {
    await current(redis);
  } finally {
    await redis.stop();
  }
  if (LEGACY_KEYS > 0) {
    const old = await startRedis({ args: REDIS_ARGS });
    try {
      await legacy(old);
    } finally {
      await old.stop();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
