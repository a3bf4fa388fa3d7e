// fast-check generators for TTLV trees, shared by property and fuzz tests.
import fc from 'fast-check';
import { ItemType, TtlvNode } from '@keywarden/kmip';

export const arbTag = fc.oneof(
  fc.integer({ min: 0x420000, max: 0x42ffff }),
  fc.integer({ min: 0x540000, max: 0x54ffff }),
);

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });

export const arbScalar: fc.Arbitrary<TtlvNode> = fc.oneof(
  fc.record({ tag: arbTag, type: fc.constant(ItemType.Integer), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.LongInteger), value: int64 }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.BigInteger), value: fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }) }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.Enumeration), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.Boolean), value: fc.boolean() }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.TextString), value: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.ByteString), value: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.DateTime), value: int64 }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.Interval), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ tag: arbTag, type: fc.constant(ItemType.DateTimeExtended), value: int64 }),
) as fc.Arbitrary<TtlvNode>;

export const arbTree: fc.Arbitrary<TtlvNode> = fc.letrec<{ node: TtlvNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbScalar,
    fc.record({ tag: arbTag, type: fc.constant(ItemType.Structure), value: fc.array(tie('node'), { maxLength: 6 }) }) as fc.Arbitrary<TtlvNode>,
  ),
})).node;

/** A deterministic PRNG (mulberry32) so fuzz failures are reproducible from the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mutates a buffer: byte flips, truncation, extension, length-field damage. */
export function mutate(src: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(src);
  const kind = Math.floor(rnd() * 6);
  const at = Math.floor(rnd() * Math.max(1, b.length));
  switch (kind) {
    case 0: // flip random bytes
      for (let i = 0, n = 1 + Math.floor(rnd() * 4); i < n && b.length; i++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      return b;
    case 1: // truncate
      return b.subarray(0, at);
    case 2: // append garbage
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 16) }, () => Math.floor(rnd() * 256)))]);
    case 3: // damage a length field at an 8-aligned header position
      if (b.length >= 8) {
        const h = (Math.floor(rnd() * (b.length / 8)) * 8) + 4;
        if (h + 4 <= b.length) b.writeUInt32BE(Math.floor(rnd() * 0xffffffff), h);
      }
      return b;
    case 4: // damage a type byte
      if (b.length >= 8) {
        const h = (Math.floor(rnd() * (b.length / 8)) * 8) + 3;
        if (h < b.length) b[h] = Math.floor(rnd() * 14);
      }
      return b;
    default: // splice a slice of itself
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(rnd() * b.length))]);
  }
}
