// Writes records as key-lifecycle did before record format 2: the whole
// record as JSON in `rec`, one Redis set per indexed value, a sorted set
// for creation order, the Name hash. For the migration test and the
// capacity benchmark's "before" figures; nothing in src/ writes this.
import type Redis from 'ioredis';
import { Tag } from '@keywarden/kmip';
import type { KeyRecord } from '../src/model/record';
import { nextTransitionAt } from '../src/model/state';
import { field, indexToken } from '../src/model/values';

const enc = encodeURIComponent;

/** One record with its index entries, as the old WRITE_OBJECT script stored it (in one MULTI). */
export async function writeLegacy(redis: Redis, r: KeyRecord, ver = 1): Promise<void> {
  const t = r.tenant;
  const sp = `kw:t:${t}:`;
  const m = redis.multi();
  m.hset(`${sp}obj:${r.uid}`, 'ver', ver, 'rec', JSON.stringify(r));
  m.zadd(`${sp}objs`, r.createdMs, r.uid);
  const s = (attr: string, token: string) => m.sadd(`${sp}ix:${attr}:${token}`, r.uid);
  s('type', String(r.objectType));
  s('state', String(r.state));
  s('crkv', enc(r.crkVersion));
  if (r.algorithm !== undefined) s('alg', String(r.algorithm));
  for (const g of r.attrs['Object Group']?.items ?? []) s('group', indexToken(g.v));
  for (const [name, b] of Object.entries(r.attrs)) {
    if (!name.startsWith('x-') && !name.startsWith('y-')) continue;
    for (const it of b.items) s(`c:${enc(name)}`, indexToken(it.v));
  }
  for (const n of r.attrs['Name']?.items ?? []) {
    const nv = field(n.v, Tag.NameValue);
    if (nv?.t === 'text') m.hset(`${sp}names`, nv.v, r.uid);
  }
  const due = nextTransitionAt(r);
  if (due !== undefined) m.zadd(`${sp}timed`, due, r.uid);
  if (r.sealedDestroyPending) m.sadd('kw:destroy-pending', `${t}/${r.uid}`);
  await m.exec();
}
