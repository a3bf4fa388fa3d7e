// Generic TTLV tree -> bytes in one pass: items are written into a reusable
// scratch buffer, each Structure's length patched in once its children are
// written, and the result copied out at its exact size. (No measuring pass:
// the copy of a few hundred bytes is cheaper than walking the tree twice.)

import { TtlvEncodeError } from './errors';
import { ItemType, TtlvNode, isValidTag } from './types';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const TWO_32 = 4294967296;

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

const INITIAL_SCRATCH = 16 * 1024;
/** Shared by every call: encoding is synchronous, so calls never interleave. */
let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);

class Writer {
  b = scratch;

  /** Makes room for `n` more bytes at `off`, growing (and keeping) the scratch buffer. */
  private room(off: number, n: number): void {
    if (off + n <= this.b.length) return;
    let size = this.b.length * 2;
    while (size < off + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.b.copy(bigger, 0, 0, off);
    this.b = bigger;
    scratch = bigger;
  }

  private u32(v: number, off: number): void {
    const b = this.b;
    b[off] = v >>> 24;
    b[off + 1] = (v >>> 16) & 0xff;
    b[off + 2] = (v >>> 8) & 0xff;
    b[off + 3] = v & 0xff;
  }

  private header(tag: number, type: number, len: number, off: number): void {
    const b = this.b;
    b[off] = tag >>> 16;
    b[off + 1] = (tag >>> 8) & 0xff;
    b[off + 2] = tag & 0xff;
    b[off + 3] = type;
    this.u32(len, off + 4);
  }

  private zero(from: number, to: number): void {
    const b = this.b;
    for (let i = from; i < to; i++) b[i] = 0;
  }

  private int64(v: bigint, off: number): void {
    if (v >= 0n && v <= 0x1fffffffffffffn) {
      // Dates and counters are small non-negative values: skip BigInt arithmetic.
      const x = Number(v);
      this.u32(Math.floor(x / TWO_32), off);
      this.u32(x >>> 0, off + 4);
    } else {
      this.b.writeBigInt64BE(v, off);
    }
  }

  /** Writes `n` at `off`; returns the offset after it (always a multiple of 8). */
  write(n: TtlvNode, off: number): number {
    if (!isValidTag(n.tag)) throw new TtlvEncodeError(`tag 0x${n.tag.toString(16)} is outside the KMIP ranges`);
    switch (n.type) {
      case ItemType.Structure: {
        this.room(off, 8);
        let p = off + 8;
        for (const c of n.value) p = this.write(c, p);
        this.header(n.tag, n.type, p - off - 8, off);
        return p;
      }
      case ItemType.Integer:
        if (!Number.isInteger(n.value) || n.value < -0x80000000 || n.value > 0x7fffffff) throw new TtlvEncodeError(`Integer 0x${n.tag.toString(16)} out of range: ${n.value}`);
        this.room(off, 16);
        this.header(n.tag, n.type, 4, off);
        this.u32(n.value >>> 0, off + 8);
        this.zero(off + 12, off + 16);
        return off + 16;
      case ItemType.Enumeration:
      case ItemType.Interval:
        if (!Number.isInteger(n.value) || n.value < 0 || n.value > 0xffffffff) throw new TtlvEncodeError(`value of 0x${n.tag.toString(16)} out of uint32 range: ${n.value}`);
        this.room(off, 16);
        this.header(n.tag, n.type, 4, off);
        this.u32(n.value, off + 8);
        this.zero(off + 12, off + 16);
        return off + 16;
      case ItemType.LongInteger:
      case ItemType.DateTime:
      case ItemType.DateTimeExtended:
        if (typeof n.value !== 'bigint' || n.value < INT64_MIN || n.value > INT64_MAX) throw new TtlvEncodeError(`64-bit value of 0x${n.tag.toString(16)} out of range`);
        this.room(off, 16);
        this.header(n.tag, n.type, 8, off);
        this.int64(n.value, off + 8);
        return off + 16;
      case ItemType.Boolean:
        this.room(off, 16);
        this.header(n.tag, n.type, 8, off);
        this.zero(off + 8, off + 15);
        this.b[off + 15] = n.value ? 1 : 0;
        return off + 16;
      case ItemType.BigInteger: {
        const len = bigIntLength(n.value);
        this.room(off, 8 + len);
        this.header(n.tag, n.type, len, off);
        let v = n.value < 0n ? (1n << BigInt(len * 8)) + n.value : n.value;
        for (let k = off + 8 + len - 1; k >= off + 8; k--) {
          this.b[k] = Number(v & 0xffn);
          v >>= 8n;
        }
        return off + 8 + len;
      }
      case ItemType.TextString: {
        const s = n.value;
        // At most 3 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units).
        this.room(off, 16 + 3 * s.length);
        const b = this.b;
        let len = s.length;
        let i = 0;
        for (; i < len; i++) {
          const c = s.charCodeAt(i);
          if (c > 0x7f) break;
          b[off + 8 + i] = c;
        }
        // Not all ASCII: let the native encoder write it (lone surrogates become U+FFFD, 3 bytes).
        if (i < len) len = b.write(s, off + 8, 'utf8');
        this.header(n.tag, n.type, len, off);
        const end = off + 8 + pad8(len);
        this.zero(off + 8 + len, end);
        return end;
      }
      case ItemType.ByteString: {
        const v = n.value;
        const len = v.length;
        this.room(off, 16 + len);
        const b = this.b;
        this.header(n.tag, n.type, len, off);
        if (len <= 64) for (let i = 0; i < len; i++) b[off + 8 + i] = v[i];
        else v.copy(b, off + 8);
        const end = off + 8 + pad8(len);
        this.zero(off + 8 + len, end);
        return end;
      }
      default:
        throw new TtlvEncodeError(`unknown item type ${(n as { type: number }).type}`);
    }
  }
}

/** Encodes one TTLV item (normally a whole Request or Response Message). */
export function encodeTtlv(node: TtlvNode): Buffer {
  const w = new Writer();
  const end = w.write(node, 0);
  const out = Buffer.allocUnsafe(end);
  w.b.copy(out, 0, 0, end);
  return out;
}
