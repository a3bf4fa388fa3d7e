// Numbered adversarial inputs for the TTLV decoder and the frame reader. Each
// must fail with the codec's own error (KMIP Result Reason Invalid Message),
// never an exception of another kind, a hang or a large allocation.
import { DecodeErrorCode, FrameReader, ResultReason, TtlvDecodeError, decodeTtlv, encodeTtlv, fromHex, resultReasonOf, ttlv } from '@keywarden/kmip';

function nest(depth: number): Buffer {
  let node = ttlv.integer(0x420001, 1);
  for (let i = 1; i < depth; i++) node = ttlv.structure(0x420001, [node]);
  return encodeTtlv(node);
}

const INT = '42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00';

// Every row has all five fields: jest passes `done` to a test function with more parameters than the row.
const cases: Array<[number, string, Buffer, DecodeErrorCode, { maxMessageSize?: number }]> = [
  [1, 'empty input', Buffer.alloc(0), 'TRUNCATED', {}],
  [2, 'header cut at 7 bytes', fromHex('42 00 20 | 02 | 00 00 00'), 'TRUNCATED', {}],
  [3, 'value shorter than its length', fromHex('42 00 20 | 07 | 00 00 00 10 | 41 41 41 41 41 41 41 41'), 'TRUNCATED', {}],
  [4, 'length 0xFFFFFFFF (no allocation may follow it)', fromHex('42 00 20 | 08 | FF FF FF FF | 00 00 00 00 00 00 00 00'), 'TRUNCATED', {}],
  [5, 'Integer with length 8', fromHex('42 00 20 | 02 | 00 00 00 08 | 00 00 00 08 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [6, 'Integer with non-zero padding', fromHex('42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 01'), 'BAD_PADDING', {}],
  [7, 'Enumeration with non-zero padding', fromHex('42 00 20 | 05 | 00 00 00 04 | 00 00 00 08 FF 00 00 00'), 'BAD_PADDING', {}],
  [8, 'Boolean 2', fromHex('42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02'), 'BAD_BOOLEAN', {}],
  [9, 'Boolean with high word set', fromHex('42 00 20 | 06 | 00 00 00 08 | 00 00 00 01 00 00 00 01'), 'BAD_BOOLEAN', {}],
  [10, 'Boolean with length 4', fromHex('42 00 20 | 06 | 00 00 00 04 | 00 00 00 01 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [11, 'Text String with invalid UTF-8 (C3 28)', fromHex('42 00 20 | 07 | 00 00 00 02 | C3 28 00 00 00 00 00 00'), 'INVALID_UTF8', {}],
  [12, 'Text String with overlong NUL (C0 80)', fromHex('42 00 20 | 07 | 00 00 00 02 | C0 80 00 00 00 00 00 00'), 'INVALID_UTF8', {}],
  [13, 'Text String with a UTF-8 surrogate (ED A0 80)', fromHex('42 00 20 | 07 | 00 00 00 03 | ED A0 80 00 00 00 00 00'), 'INVALID_UTF8', {}],
  [14, 'Text String with non-zero padding', fromHex('42 00 20 | 07 | 00 00 00 01 | 41 00 00 20 00 00 00 00'), 'BAD_PADDING', {}],
  [15, 'Byte String with non-zero padding', fromHex('42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 09'), 'BAD_PADDING', {}],
  [16, 'Text String missing its padding', fromHex('42 00 20 | 07 | 00 00 00 03 | 41 42 43'), 'TRUNCATED', {}],
  [17, 'Structure length not a multiple of 8', fromHex('42 00 20 | 01 | 00 00 00 0C | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [18, 'child longer than its parent structure', fromHex('42 00 20 | 01 | 00 00 00 10 | 42 00 04 | 07 | 00 00 00 10 | 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41'), 'LENGTH_MISMATCH', {}],
  [19, 'structures nested 65 deep', nest(66), 'TOO_DEEP', {}],
  [20, 'trailing bytes after the message', Buffer.concat([fromHex(INT), Buffer.alloc(8)]), 'TRAILING_BYTES', {}],
  [21, 'unknown item type 0x0C', fromHex('42 00 20 | 0C | 00 00 00 04 | 00 00 00 08 00 00 00 00'), 'BAD_TYPE', {}],
  [22, 'item type 0x00', fromHex('42 00 20 | 00 | 00 00 00 00'), 'BAD_TYPE', {}],
  [23, 'tag outside 0x42/0x54 ranges', fromHex('41 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00'), 'BAD_TAG', {}],
  [24, 'message over the configured cap', fromHex(INT), 'TOO_LARGE', { maxMessageSize: 15 }],
  [25, 'Big Integer with length 0', fromHex('42 00 20 | 04 | 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [26, 'Big Integer with length 12', fromHex('42 00 20 | 04 | 00 00 00 0C | 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [27, 'Date-Time with length 4', fromHex('42 00 20 | 09 | 00 00 00 04 | 47 DA 67 F8 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [28, 'Long Integer with length 16', fromHex('42 00 20 | 03 | 00 00 00 10 | 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01'), 'LENGTH_MISMATCH', {}],
  [29, 'Interval with length 8', fromHex('42 00 20 | 0A | 00 00 00 08 | 00 0D 2F 00 00 00 00 00'), 'LENGTH_MISMATCH', {}],
  [30, 'nested item with a bad tag', fromHex('42 00 20 | 01 | 00 00 00 10 | 00 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00'), 'BAD_TAG', {}],
  [31, 'ASCII garbage ("GET / HTTP/1.1")', Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'BAD_TAG', {}],
  [32, 'TLS ClientHello sent in clear', fromHex('16 03 01 02 00 01 00 01 fc 03 03'), 'BAD_TAG', {}],
];

describe('TTLV decoder rejects adversarial input', () => {
  test.each(cases)('#%i %s', (_n, _what, bytes, code, opts) => {
    let err: unknown;
    try {
      decodeTtlv(bytes, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TtlvDecodeError);
    expect((err as TtlvDecodeError).code).toBe(code);
    expect(resultReasonOf(err)).toBe(ResultReason.InvalidMessage);
  });

  test('nesting of exactly 64 is accepted', () => {
    expect(() => decodeTtlv(nest(64))).not.toThrow();
    expect(() => decodeTtlv(nest(65))).toThrow(TtlvDecodeError);
  });
});

describe('FrameReader', () => {
  const msg = (n: number) => encodeTtlv(ttlv.structure(0x420078, [ttlv.integer(0x42000d, n), ttlv.textString(0x420094, 'x'.repeat(n))]));

  test('assembles a message delivered one byte at a time', () => {
    const m = msg(13);
    const r = new FrameReader(1024);
    const out: Buffer[] = [];
    for (const b of m) out.push(...r.push(Buffer.from([b])));
    expect(out).toHaveLength(1);
    expect(out[0].equals(m)).toBe(true);
    expect(r.pending).toBe(0);
  });

  test('splits several messages in one chunk, keeping a partial tail', () => {
    const a = msg(1), b = msg(20), c = msg(7);
    const all = Buffer.concat([a, b, c]);
    const r = new FrameReader(1024);
    const first = r.push(all.subarray(0, a.length + b.length + 5));
    expect(first.map((x) => x.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
    expect(r.midMessage).toBe(true);
    const rest = r.push(all.subarray(a.length + b.length + 5));
    expect(rest).toHaveLength(1);
    expect(rest[0].equals(c)).toBe(true);
  });

  test('header split across chunks', () => {
    const m = msg(3);
    const r = new FrameReader(1024);
    expect(r.push(m.subarray(0, 3))).toEqual([]);
    expect(r.push(m.subarray(3, 6))).toEqual([]);
    const out = r.push(m.subarray(6));
    expect(out[0].equals(m)).toBe(true);
  });

  test('rejects an oversized length from the header alone, before the body arrives', () => {
    const r = new FrameReader(4096);
    expect(() => r.push(fromHex('42 00 78 | 01 | 7F FF FF F8'))).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });

  test('accepts a message of exactly the cap', () => {
    const m = msg(40);
    expect(new FrameReader(m.length).push(m)).toHaveLength(1);
    expect(() => new FrameReader(m.length - 8).push(m)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });

  test.each([
    ['a non-structure message', '42 00 78 | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00', 'BAD_TYPE', {}],
    ['garbage bytes', '13 37 de ad be ef 00 01', 'BAD_TAG', {}],
    ['a structure length not a multiple of 8', '42 00 78 | 01 | 00 00 00 05', 'LENGTH_MISMATCH', {}],
  ])('rejects %s at the header', (_what, hex, code) => {
    expect(() => new FrameReader(1024).push(fromHex(hex))).toThrow(expect.objectContaining({ code }));
  });

  test('buffers at most one message plus the bytes already received', () => {
    const r = new FrameReader(64);
    const m = msg(2);
    r.push(m.subarray(0, 10));
    expect(r.pending).toBe(10);
  });
});
