// Splits a byte stream (a TLS socket) into whole TTLV messages. The 8-byte
// header of each message is validated, and its length checked against the
// cap, before a single byte of the body is buffered beyond what arrived.

import { TtlvDecodeError } from './errors';
import { ItemType, isValidTag } from './types';

export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Total size of the message being assembled, or -1 while its header is incomplete. */
  private need = -1;
  private consumed = 0;

  constructor(private readonly maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {
    if (maxMessageSize < 8) throw new RangeError('maxMessageSize must be at least 8');
  }

  /** Bytes held for an incomplete message. */
  get pending(): number {
    return this.buffered;
  }

  /** True while a message has started but not completed (useful for read timeouts). */
  get midMessage(): boolean {
    return this.buffered > 0;
  }

  /**
   * Adds bytes; returns every message they complete, in order. Throws
   * TtlvDecodeError on a bad header or an oversized length; the stream is
   * then unusable and should be closed.
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (chunk.length === 0) return out;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 8) return out;
        this.need = this.readHeader();
      }
      if (this.buffered < this.need) return out;
      out.push(this.take(this.need));
      this.need = -1;
    }
  }

  private readHeader(): number {
    const h = this.peek(8);
    const tag = (h[0] << 16) | (h[1] << 8) | h[2];
    const at = this.consumed;
    if (!isValidTag(tag)) throw new TtlvDecodeError('BAD_TAG', `stream does not start a KMIP message (tag 0x${tag.toString(16).padStart(6, '0')})`, at);
    if (h[3] !== ItemType.Structure) throw new TtlvDecodeError('BAD_TYPE', 'a KMIP message must be a Structure', at + 3);
    const len = h.readUInt32BE(4);
    if ((len & 7) !== 0) throw new TtlvDecodeError('LENGTH_MISMATCH', 'structure length must be a multiple of 8', at + 4);
    if (len > this.maxMessageSize - 8) {
      throw new TtlvDecodeError('TOO_LARGE', `message of ${len + 8} bytes exceeds the ${this.maxMessageSize}-byte limit`, at + 4);
    }
    return len + 8;
  }

  /** The first n buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    return Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  /** Removes and returns the first n buffered bytes. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let msg: Buffer;
    if (first.length >= n) {
      msg = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      msg = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - off);
        c.copy(msg, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    this.consumed += n;
    return msg;
  }
}
