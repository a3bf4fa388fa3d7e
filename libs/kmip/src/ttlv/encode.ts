// Generic TTLV tree -> bytes, in one allocation: a first pass measures every
// item (recording structure and string lengths in visit order), a second
// writes them.

import { TtlvEncodeError } from './errors';
import { ItemType, TtlvNode, isValidTag } from './types';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function pad8(n: number): number {
  return n + ((8 - (n & 7)) & 7);
}

/** Minimal two's complement byte length, a multiple of 8 (KMIP 1.4 §9.1.1.4). */
function bigIntLength(v: bigint): number {
  let bytes = 1;
  // Grow until v fits in a signed integer of `bytes` bytes.
  while (v < -(1n << BigInt(bytes * 8 - 1)) || v >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  return pad8(bytes);
}

/** UTF-8 byte length, as Buffer.byteLength computes it (lone surrogates count 3), without a native call. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

class Sizer {
  lens: number[] = [];

  size(n: TtlvNode): number {
    if (!isValidTag(n.tag)) throw new TtlvEncodeError(`tag 0x${n.tag.toString(16)} is outside the KMIP ranges`);
    switch (n.type) {
      case ItemType.Structure: {
        const idx = this.lens.length;
        this.lens.push(0);
        let total = 0;
        for (const c of n.value) total += this.size(c);
        this.lens[idx] = total;
        return 8 + total;
      }
      case ItemType.Integer:
        if (!Number.isInteger(n.value) || n.value < -0x80000000 || n.value > 0x7fffffff) throw new TtlvEncodeError(`Integer 0x${n.tag.toString(16)} out of range: ${n.value}`);
        return 16;
      case ItemType.Enumeration:
      case ItemType.Interval:
        if (!Number.isInteger(n.value) || n.value < 0 || n.value > 0xffffffff) throw new TtlvEncodeError(`value of 0x${n.tag.toString(16)} out of uint32 range: ${n.value}`);
        return 16;
      case ItemType.LongInteger:
      case ItemType.DateTime:
      case ItemType.DateTimeExtended:
        if (typeof n.value !== 'bigint' || n.value < INT64_MIN || n.value > INT64_MAX) throw new TtlvEncodeError(`64-bit value of 0x${n.tag.toString(16)} out of range`);
        return 16;
      case ItemType.Boolean:
        return 16;
      case ItemType.BigInteger: {
        const len = bigIntLength(n.value);
        this.lens.push(len);
        return 8 + len;
      }
      case ItemType.TextString: {
        const len = n.value.length <= 256 ? utf8Length(n.value) : Buffer.byteLength(n.value, 'utf8');
        this.lens.push(len);
        return 8 + pad8(len);
      }
      case ItemType.ByteString:
        return 8 + pad8(n.value.length);
      default:
        throw new TtlvEncodeError(`unknown item type ${(n as { type: number }).type}`);
    }
  }
}

class Writer {
  i = 0;
  constructor(private readonly buf: Buffer, private readonly lens: number[]) {}

  private header(tag: number, type: number, len: number, off: number): void {
    const b = this.buf;
    b[off] = tag >>> 16;
    b[off + 1] = (tag >>> 8) & 0xff;
    b[off + 2] = tag & 0xff;
    b[off + 3] = type;
    this.u32(len, off + 4);
  }

  private u32(v: number, off: number): void {
    const b = this.buf;
    b[off] = v >>> 24;
    b[off + 1] = (v >>> 16) & 0xff;
    b[off + 2] = (v >>> 8) & 0xff;
    b[off + 3] = v & 0xff;
  }

  private zero(from: number, to: number): void {
    const b = this.buf;
    for (let i = from; i < to; i++) b[i] = 0;
  }

  write(n: TtlvNode, off: number): number {
    const b = this.buf;
    switch (n.type) {
      case ItemType.Structure: {
        const len = this.lens[this.i++];
        this.header(n.tag, n.type, len, off);
        let p = off + 8;
        for (const c of n.value) p = this.write(c, p);
        return p;
      }
      case ItemType.Integer:
        this.header(n.tag, n.type, 4, off);
        this.u32(n.value >>> 0, off + 8);
        this.zero(off + 12, off + 16);
        return off + 16;
      case ItemType.Enumeration:
      case ItemType.Interval:
        this.header(n.tag, n.type, 4, off);
        this.u32(n.value, off + 8);
        this.zero(off + 12, off + 16);
        return off + 16;
      case ItemType.LongInteger:
      case ItemType.DateTime:
      case ItemType.DateTimeExtended:
        this.header(n.tag, n.type, 8, off);
        if (n.value >= 0n && n.value <= 0x1fffffffffffffn) {
          // Dates and counters are small non-negative values: skip BigInt arithmetic.
          const x = Number(n.value);
          this.u32(Math.floor(x / 4294967296), off + 8);
          this.u32(x >>> 0, off + 12);
        } else {
          b.writeBigInt64BE(n.value, off + 8);
        }
        return off + 16;
      case ItemType.Boolean:
        this.header(n.tag, n.type, 8, off);
        this.zero(off + 8, off + 15);
        b[off + 15] = n.value ? 1 : 0;
        return off + 16;
      case ItemType.BigInteger: {
        const len = this.lens[this.i++];
        this.header(n.tag, n.type, len, off);
        let v = n.value < 0n ? (1n << BigInt(len * 8)) + n.value : n.value;
        for (let k = off + 8 + len - 1; k >= off + 8; k--) {
          b[k] = Number(v & 0xffn);
          v >>= 8n;
        }
        return off + 8 + len;
      }
      case ItemType.TextString: {
        const len = this.lens[this.i++];
        this.header(n.tag, n.type, len, off);
        if (len === n.value.length) {
          // ASCII (byte length equals UTF-16 length only when every char is one byte).
          const s = n.value;
          for (let i = 0; i < len; i++) b[off + 8 + i] = s.charCodeAt(i);
        } else {
          b.write(n.value, off + 8, len, 'utf8');
        }
        const end = off + 8 + pad8(len);
        this.zero(off + 8 + len, end);
        return end;
      }
      case ItemType.ByteString: {
        const len = n.value.length;
        this.header(n.tag, n.type, len, off);
        if (len <= 64) for (let i = 0; i < len; i++) b[off + 8 + i] = n.value[i];
        else n.value.copy(b, off + 8);
        const end = off + 8 + pad8(len);
        this.zero(off + 8 + len, end);
        return end;
      }
    }
  }
}

/** Encodes one TTLV item (normally a whole Request or Response Message). */
export function encodeTtlv(node: TtlvNode): Buffer {
  const sizer = new Sizer();
  const size = sizer.size(node);
  const buf = Buffer.allocUnsafe(size);
  new Writer(buf, sizer.lens).write(node, 0);
  return buf;
}
