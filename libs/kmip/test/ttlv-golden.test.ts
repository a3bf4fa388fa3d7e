// Golden vectors for the TTLV layer: each drives decode, encode and a
// byte-exact round trip. Sources are cited per vector.
import { ItemType, TtlvNode, decodeTtlv, encodeTtlv, fromHex, ttlv } from '@keywarden/kmip';

interface Golden {
  source: string;
  hex: string;
  node: TtlvNode;
}

// KMIP 1.4 specification §9.1.2 "Examples" (identical in 1.0–1.3 §9.1.2 and
// 2.x §9.1.2); tag 0x420020 is used there for every scalar example.
const SPEC = 'KMIP 1.4 §9.1.2';
const goldens: Golden[] = [
  { source: `${SPEC}: Integer 8`, hex: '42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00', node: ttlv.integer(0x420020, 8) },
  { source: `${SPEC}: Long Integer 123456789000000000`, hex: '42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00', node: ttlv.longInteger(0x420020, 123456789000000000n) },
  {
    source: `${SPEC}: Big Integer 1234567890000000000000000000`,
    hex: '42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00',
    node: ttlv.bigInteger(0x420020, 1234567890000000000000000000n),
  },
  { source: `${SPEC}: Enumeration 255`, hex: '42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00', node: ttlv.enumeration(0x420020, 255) },
  { source: `${SPEC}: Boolean True`, hex: '42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01', node: ttlv.boolean(0x420020, true) },
  {
    source: `${SPEC}: Text String "Hello World"`,
    hex: '42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00',
    node: ttlv.textString(0x420020, 'Hello World'),
  },
  { source: `${SPEC}: Byte String 01 02 03`, hex: '42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00', node: ttlv.byteString(0x420020, Buffer.from([1, 2, 3])) },
  {
    source: `${SPEC}: Date-Time Friday, March 14, 2008, 11:56:40 GMT`,
    hex: '42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8',
    node: ttlv.dateTime(0x420020, BigInt(Date.UTC(2008, 2, 14, 11, 56, 40) / 1000)),
  },
  { source: `${SPEC}: Interval 10 days`, hex: '42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00', node: ttlv.interval(0x420020, 10 * 86400) },
  {
    source: `${SPEC}: Structure of Enumeration 254 (tag 420004) and Integer 255 (tag 420005)`,
    hex: '42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00',
    node: ttlv.structure(0x420020, [ttlv.enumeration(0x420004, 254), ttlv.integer(0x420005, 255)]),
  },
  // KMIP 2.0 §9.1.1.4 Date-Time Extended (microseconds); value 2017-11-20T05:20:40.345567Z,
  // the example gemalto/kmip-go's ttlv tests use.
  {
    source: 'KMIP 2.0 §9.1.1.4: Date-Time Extended 2017-11-20T05:20:40.345567Z',
    hex: '42 00 20 | 0B | 00 00 00 08 | 00 05 5E 63 3F 4D 1F DF',
    node: ttlv.dateTimeExtended(0x420020, BigInt(Date.UTC(2017, 10, 20, 5, 20, 40)) * 1000n + 345567n),
  },
  // Padding and sign rules (§9.1.1.4): Big Integers are sign-extended to a multiple of 8.
  { source: '§9.1.1.4 rule: Big Integer 2^64-1 needs a 9th (sign) byte, padded to 16', hex: '42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 00 00 00 00 FF FF FF FF FF FF FF FF', node: ttlv.bigInteger(0x420020, (1n << 64n) - 1n) },
  { source: '§9.1.1.4 rule: Big Integer -1 is one sign-extended block', hex: '42 00 20 | 04 | 00 00 00 08 | FF FF FF FF FF FF FF FF', node: ttlv.bigInteger(0x420020, -1n) },
  { source: '§9.1.1.4 rule: Big Integer 0', hex: '42 00 20 | 04 | 00 00 00 08 | 00 00 00 00 00 00 00 00', node: ttlv.bigInteger(0x420020, 0n) },
  { source: '§9.1.1.4 rule: Big Integer -2^63 fits in 8 bytes', hex: '42 00 20 | 04 | 00 00 00 08 | 80 00 00 00 00 00 00 00', node: ttlv.bigInteger(0x420020, -(1n << 63n)) },
  { source: '§9.1.1.4 rule: Integer -1', hex: '42 00 20 | 02 | 00 00 00 04 | FF FF FF FF 00 00 00 00', node: ttlv.integer(0x420020, -1) },
  { source: '§9.1.1.4 rule: empty Text String has no padding', hex: '42 00 20 | 07 | 00 00 00 00', node: ttlv.textString(0x420020, '') },
  { source: '§9.1.1.4 rule: 8-byte Byte String needs no padding', hex: '42 00 20 | 08 | 00 00 00 08 | 01 02 03 04 05 06 07 08', node: ttlv.byteString(0x420020, Buffer.from('0102030405060708', 'hex')) },
  { source: '§9.1.1.4 rule: UTF-8 Text String (multi-byte)', hex: '42 00 20 | 07 | 00 00 00 05 | C3 A9 E2 82 AC 00 00 00', node: ttlv.textString(0x420020, 'é€') },
  { source: '§9.1.1.3 rule: empty Structure', hex: '42 00 20 | 01 | 00 00 00 00', node: ttlv.structure(0x420020, []) },
  { source: '§9.1.1.1 rule: extension tag 0x54xxxx', hex: '54 00 01 | 05 | 00 00 00 04 | 00 00 00 01 00 00 00 00', node: ttlv.enumeration(0x540001, 1) },
];

describe.each(goldens)('$source', ({ hex, node }) => {
  const bytes = fromHex(hex);
  test('decodes to the expected tree', () => {
    expect(decodeTtlv(bytes)).toEqual(node);
  });
  test('encodes to the exact bytes', () => {
    expect(encodeTtlv(node).toString('hex')).toBe(bytes.toString('hex'));
  });
  test('round-trips byte-exactly', () => {
    expect(encodeTtlv(decodeTtlv(bytes)).equals(bytes)).toBe(true);
  });
});

test('item type codes match §9.1.1.2', () => {
  expect(ItemType).toEqual({
    Structure: 1, Integer: 2, LongInteger: 3, BigInteger: 4, Enumeration: 5, Boolean: 6,
    TextString: 7, ByteString: 8, DateTime: 9, Interval: 10, DateTimeExtended: 11,
  });
});
