// Bytes -> generic TTLV tree, strictly (KMIP 1.4 §9.1, KMIP 2.1 §9.1).
// Every length is checked against the bytes actually present before anything
// is allocated, padding must be zero, and nesting is capped.

import { DecodeErrorCode, TtlvDecodeError } from './errors';
import { ItemType, TtlvNode, isValidTag } from './types';

export interface DecodeOptions {
  /** Deepest Structure nesting accepted; the top-level message is depth 1. Default 64. */
  maxDepth?: number;
  /** Largest message accepted, in bytes (header included). Default: no cap. */
  maxMessageSize?: number;
}

export const DEFAULT_MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Decoder {
  pos = 0;
  constructor(private readonly buf: Buffer, private readonly maxDepth: number) {}

  fail(code: DecodeErrorCode, message: string, at = this.pos): never {
    throw new TtlvDecodeError(code, message, at);
  }

  private zeroPadding(from: number, to: number): void {
    const b = this.buf;
    for (let i = from; i < to; i++) if (b[i] !== 0) this.fail('BAD_PADDING', 'padding bytes must be zero', i);
  }

  private u32(at: number): number {
    const b = this.buf;
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  /** Reads one item that must end at or before `limit`. */
  item(limit: number, depth: number): TtlvNode {
    const b = this.buf;
    const start = this.pos;
    if (start + 8 > limit) this.fail(limit < b.length ? 'LENGTH_MISMATCH' : 'TRUNCATED', 'item header runs past the end of its container');
    const tag = (b[start] << 16) | (b[start + 1] << 8) | b[start + 2];
    if (!isValidTag(tag)) this.fail('BAD_TAG', `tag 0x${tag.toString(16).padStart(6, '0')} is outside the KMIP ranges`);
    const type = b[start + 3];
    const len = this.u32(start + 4);
    const v = start + 8;
    const padded = len + ((8 - (len & 7)) & 7);
    if (v + padded > limit) {
      this.fail(limit < b.length ? 'LENGTH_MISMATCH' : 'TRUNCATED', `item 0x${tag.toString(16)} claims ${len} bytes, more than its container holds`, start + 4);
    }
    this.pos = v + padded;
    switch (type) {
      case ItemType.Structure: {
        if ((len & 7) !== 0) this.fail('LENGTH_MISMATCH', 'structure length must be a multiple of 8', start + 4);
        if (depth >= this.maxDepth) this.fail('TOO_DEEP', `structures nested deeper than ${this.maxDepth}`, start);
        const end = v + len;
        const children: TtlvNode[] = [];
        this.pos = v;
        while (this.pos < end) children.push(this.item(end, depth + 1));
        return { tag, type: ItemType.Structure, value: children };
      }
      case ItemType.Integer:
        if (len !== 4) this.fail('LENGTH_MISMATCH', `Integer length must be 4, got ${len}`, start + 4);
        this.zeroPadding(v + 4, v + 8);
        return { tag, type, value: this.u32(v) | 0 };
      case ItemType.Enumeration:
        if (len !== 4) this.fail('LENGTH_MISMATCH', `Enumeration length must be 4, got ${len}`, start + 4);
        this.zeroPadding(v + 4, v + 8);
        return { tag, type, value: this.u32(v) };
      case ItemType.Interval:
        if (len !== 4) this.fail('LENGTH_MISMATCH', `Interval length must be 4, got ${len}`, start + 4);
        this.zeroPadding(v + 4, v + 8);
        return { tag, type, value: this.u32(v) };
      case ItemType.LongInteger:
        if (len !== 8) this.fail('LENGTH_MISMATCH', `Long Integer length must be 8, got ${len}`, start + 4);
        return { tag, type, value: b.readBigInt64BE(v) };
      case ItemType.DateTime:
        if (len !== 8) this.fail('LENGTH_MISMATCH', `Date-Time length must be 8, got ${len}`, start + 4);
        return { tag, type, value: b.readBigInt64BE(v) };
      case ItemType.DateTimeExtended:
        if (len !== 8) this.fail('LENGTH_MISMATCH', `Date-Time Extended length must be 8, got ${len}`, start + 4);
        return { tag, type, value: b.readBigInt64BE(v) };
      case ItemType.Boolean: {
        if (len !== 8) this.fail('LENGTH_MISMATCH', `Boolean length must be 8, got ${len}`, start + 4);
        const hi = this.u32(v);
        const lo = this.u32(v + 4);
        if (hi !== 0 || lo > 1) this.fail('BAD_BOOLEAN', 'Boolean must be 0 or 1', v);
        return { tag, type, value: lo === 1 };
      }
      case ItemType.BigInteger: {
        if (len === 0 || (len & 7) !== 0) this.fail('LENGTH_MISMATCH', `Big Integer length must be a positive multiple of 8, got ${len}`, start + 4);
        let value = BigInt('0x' + b.toString('hex', v, v + len));
        if (b[v] & 0x80) value -= 1n << BigInt(len * 8);
        return { tag, type, value };
      }
      case ItemType.TextString: {
        this.zeroPadding(v + len, v + padded);
        let ascii = true;
        for (let i = v; i < v + len; i++) {
          if (b[i] > 0x7f) { ascii = false; break; }
        }
        let value: string;
        if (ascii) value = b.toString('latin1', v, v + len);
        else {
          try {
            value = utf8.decode(b.subarray(v, v + len));
          } catch {
            this.fail('INVALID_UTF8', 'Text String is not valid UTF-8', v);
          }
        }
        return { tag, type, value };
      }
      case ItemType.ByteString:
        this.zeroPadding(v + len, v + padded);
        // A view, not a copy: the value shares the input buffer (one framed
        // message, never reused by the socket). Copy it to keep it longer.
        return { tag, type, value: b.subarray(v, v + len) };
      default:
        return this.fail('BAD_TYPE', `unknown item type 0x${type.toString(16).padStart(2, '0')}`, start + 3);
    }
  }
}

/** Decodes exactly one TTLV item spanning the whole buffer. */
export function decodeTtlv(buf: Buffer, opts: DecodeOptions = {}): TtlvNode {
  if (opts.maxMessageSize !== undefined && buf.length > opts.maxMessageSize) {
    throw new TtlvDecodeError('TOO_LARGE', `message of ${buf.length} bytes exceeds the ${opts.maxMessageSize}-byte limit`, 0);
  }
  const d = new Decoder(buf, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
  const node = d.item(buf.length, 1);
  if (d.pos !== buf.length) d.fail('TRAILING_BYTES', `${buf.length - d.pos} bytes after the end of the message`);
  return node;
}
