import fc from 'fast-check';
import { TtlvDecodeError, TtlvNode, decodeTtlv, encodeTtlv } from '@keywarden/kmip';
import { arbTree, mutate, prng } from './arbitraries';

describe('TTLV properties', () => {
  test('tree -> bytes -> tree is the identity', () => {
    fc.assert(fc.property(arbTree, (node) => {
      expect(decodeTtlv(encodeTtlv(node))).toEqual(node);
    }), { numRuns: 2000 });
  });

  test('bytes -> tree -> bytes is byte-exact for every encoder output', () => {
    fc.assert(fc.property(arbTree, (node) => {
      const bytes = encodeTtlv(node);
      expect(encodeTtlv(decodeTtlv(bytes)).equals(bytes)).toBe(true);
    }), { numRuns: 1000 });
  });

  test('Text String length is the UTF-8 byte length, lone surrogates included', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      const bytes = encodeTtlv({ tag: 0x420020, type: 7, value: s });
      expect(bytes.readUInt32BE(4)).toBe(Buffer.byteLength(s, 'utf8'));
      expect(bytes.subarray(8, 8 + Buffer.byteLength(s)).equals(Buffer.from(s, 'utf8'))).toBe(true);
    }), { numRuns: 2000 });
  });

  test('messages larger than the encoder scratch buffer, then small ones again', () => {
    const big = { tag: 0x420079, type: 1, value: [
      { tag: 0x420043, type: 8, value: Buffer.alloc(200_000, 7) },
      { tag: 0x420094, type: 7, value: 'é'.repeat(30_000) },
      { tag: 0x42000d, type: 2, value: 3 },
    ] } as TtlvNode;
    expect(decodeTtlv(encodeTtlv(big))).toEqual(big);
    const small = { tag: 0x420094, type: 7, value: 'u' } as TtlvNode;
    expect(encodeTtlv(small).toString('hex')).toBe('42009407000000017500000000000000');
  });

  test('every encoding is a multiple of 8 bytes', () => {
    fc.assert(fc.property(arbTree, (node) => encodeTtlv(node).length % 8 === 0), { numRuns: 1000 });
  });
});

describe('TTLV fuzz: random and mutated input', () => {
  // At least 100,000 cases in total; only the codec's own error may escape.
  const SEED = 0x6b77; // change to explore; failures print the case index
  test('120,000 mutated and random buffers decode or fail with TtlvDecodeError', () => {
    const rnd = prng(SEED);
    const seeds = fc.sample(arbTree, { numRuns: 300, seed: SEED }).map((n) => encodeTtlv(n));
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < 120_000; i++) {
      const input = i % 5 === 4
        ? Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)))
        : mutate(seeds[i % seeds.length], rnd);
      try {
        decodeTtlv(input, { maxMessageSize: 1 << 20 });
        decoded++;
      } catch (e) {
        if (!(e instanceof TtlvDecodeError)) throw new Error(`case ${i} (${input.toString('hex')}) threw ${String(e)}`);
        rejected++;
      }
    }
    expect(decoded + rejected).toBe(120_000);
    expect(rejected).toBeGreaterThan(50_000); // the mutations do hit the checks
    expect(decoded).toBeGreaterThan(1_000); // and some survive as other valid trees
  });
});
