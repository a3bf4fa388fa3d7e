// Mutations of real-shaped KMIP frames for the wire-level fuzz test: the
// vCenter conversation's requests (libs/kmip vcenterConversation), changed
// the ways broken or hostile clients change them. Deterministic for a seed,
// so a failing run can be replayed (KMIP_FUZZ_SEED).
import { encodeRequest, vcenter, vcenterConversation } from '@keywarden/kmip';
import { prng } from '../../../libs/kmip/test/arbitraries';

export { prng };

export type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** The requests vCenter sends (the conversation of docs/vcenter.md), encoded: the material mutations start from. */
export function vcenterFrames(): Buffer[] {
  const uid = '7f1c2a6e-3b8d-4c55-9f1e-2d4a6b8c0e11';
  const frames = vcenterConversation(uid, Buffer.alloc(32)).requests.map(([, m]) => encodeRequest(m));
  frames.push(encodeRequest(vcenter.get(20, 'no-such-key')), encodeRequest(vcenter.getAttributes(21, uid, 'State')));
  return frames;
}

/** One TTLV item inside a frame: header offset, total size (header and padded value), offsets of its enclosing structures. */
export interface Item {
  at: number;
  size: number;
  ancestors: number[];
}

/** Every item of a well-formed frame, the message itself first. */
export function items(frame: Buffer): Item[] {
  const out: Item[] = [];
  const walk = (start: number, end: number, ancestors: number[]) => {
    let p = start;
    while (p + 8 <= end) {
      const type = frame[p + 3];
      const len = frame.readUInt32BE(p + 4);
      const size = 8 + (type === 0x01 ? len : Math.ceil(len / 8) * 8);
      if (p + size > end) return;
      out.push({ at: p, size, ancestors });
      if (type === 0x01) walk(p + 8, p + size, [...ancestors, p]);
      p += size;
    }
  };
  walk(0, frame.length, []);
  return out;
}

/** Replaces frame[at, at+removed) with `insert` and keeps every enclosing structure's length right. */
function splice(frame: Buffer, it: Item, removed: number, insert: Buffer): Buffer {
  const out = Buffer.concat([frame.subarray(0, it.at), insert, frame.subarray(it.at + removed)]);
  const delta = insert.length - removed;
  for (const a of it.ancestors) out.writeUInt32BE(out.readUInt32BE(a + 4) + delta, a + 4);
  return out;
}

/** A frame whose outer length matches its size (padded with zeros to a multiple of 8). */
function reframe(body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((8 - (body.length % 8)) % 8)]);
  padded.writeUInt32BE(padded.length - 8, 4);
  return padded;
}

const inner = (frame: Buffer) => items(frame).filter((i) => i.ancestors.length > 0);

/**
 * Mutations by name. Each keeps or breaks the framing (the outer header)
 * as its name says: a framing-breaking one ends the connection with
 * Invalid Message; the others are answered and the connection goes on.
 */
export const MUTATIONS: Record<string, (r: Rand, frame: Buffer, other: Buffer) => Buffer> = {
  clean: (_r, f) => f,
  'flip body bytes': (r, f) => {
    const b = Buffer.from(f);
    for (let n = int(r, 1, 4); n > 0; n--) b[int(r, 8, b.length - 1)] ^= int(r, 1, 255);
    return b;
  },
  'flip any byte (header too)': (r, f) => {
    const b = Buffer.from(f);
    b[int(r, 0, b.length - 1)] ^= int(r, 1, 255);
    return b;
  },
  'wrong inner length': (r, f) => {
    const b = Buffer.from(f);
    const it = pick(r, inner(b));
    const len = b.readUInt32BE(it.at + 4);
    b.writeUInt32BE(pick(r, [len + 1, Math.max(0, len - 1), len + 8, Math.max(0, len - 8), 0, 0xffffffff, int(r, 0, 0x7fffffff)]) >>> 0, it.at + 4);
    return b;
  },
  'wrong inner type': (r, f) => {
    const b = Buffer.from(f);
    b[pick(r, inner(b)).at + 3] = pick(r, [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0f, 0xff]);
    return b;
  },
  'wrong inner tag': (r, f) => {
    const b = Buffer.from(f);
    const it = pick(r, inner(b));
    b.writeUIntBE(pick(r, [0x420000 + int(r, 0, 0x160), 0x540000 + int(r, 0, 0xff), int(r, 0, 0xffffff)]), it.at, 3);
    return b;
  },
  'truncated, length fixed': (r, f) => reframe(f.subarray(0, int(r, 8, f.length - 1))),
  'truncated, length not fixed': (r, f) => f.subarray(0, int(r, 1, f.length - 1)),
  'spliced with another frame': (r, f, o) => reframe(Buffer.concat([f.subarray(0, int(r, 8, f.length)), o.subarray(int(r, 8, o.length - 1))])),
  'duplicated item': (r, f) => {
    const it = pick(r, inner(f));
    return splice(f, it, 0, f.subarray(it.at, it.at + it.size));
  },
  'dropped item': (r, f) => {
    const it = pick(r, inner(f));
    return splice(f, it, it.size, Buffer.alloc(0));
  },
  'outer length not a multiple of 8': (r, f) => {
    const len = int(r, 1, f.length - 9) | 1;
    const b = Buffer.from(f.subarray(0, len + 8));
    b.writeUInt32BE(len, 4);
    return b;
  },
  'outer length beyond the limit': (_r, f) => {
    const b = Buffer.from(f.subarray(0, 8));
    b.writeUInt32BE(0x7ffffff8, 4);
    return b;
  },
  garbage: (r) => Buffer.from(Array.from({ length: int(r, 1, 200) }, () => int(r, 0, 255))),
};

/** Relative frequency of each mutation: most keep framing, so a connection carries several frames. */
const WEIGHTS: Record<string, number> = {
  clean: 8, 'flip body bytes': 16, 'flip any byte (header too)': 4, 'wrong inner length': 14, 'wrong inner type': 10, 'wrong inner tag': 8,
  'truncated, length fixed': 10, 'truncated, length not fixed': 2, 'spliced with another frame': 10, 'duplicated item': 8, 'dropped item': 6,
  'outer length not a multiple of 8': 1, 'outer length beyond the limit': 1, garbage: 2,
};
const TABLE = Object.entries(WEIGHTS).flatMap(([name, w]) => new Array<string>(w).fill(name));

/** A random mutation (by weight) of a random base frame. */
export function mutant(r: Rand, base: Buffer[]): { name: string; bytes: Buffer } {
  const name = pick(r, TABLE);
  return { name, bytes: MUTATIONS[name](r, pick(r, base), pick(r, base)) };
}
