// Pre-encoded vCenter-shaped requests for the load generator, and a cheap
// check of a response's Result Status that does not decode the whole message
// (so the generator spends its CPU on sockets, not on parsing).
import { RequestMessage, encodeRequest, vcenter, vcenterBatchId } from '@keywarden/kmip';

export type LoadOp = 'get' | 'create' | 'discover';

/** One encoded request whose Unique Batch Item ID counter is patched per send. */
export class RequestTemplate {
  private readonly bytes: Buffer;
  private readonly idOffset: number;

  constructor(m: RequestMessage) {
    this.bytes = encodeRequest(m);
    // vcenterBatchId(0x7fffffff) is unique in the message: find where its counter sits.
    this.idOffset = this.bytes.indexOf(vcenterBatchId(0x7fffffff)) + 4;
    if (this.idOffset < 4) throw new Error('request template has no vCenter batch item id');
  }

  get length(): number {
    return this.bytes.length;
  }

  /** A fresh copy with batch item id counter `n` (the socket may hold the buffer until it is sent). */
  make(n: number): Buffer {
    const b = Buffer.from(this.bytes);
    b.writeUInt32LE(n >>> 0, this.idOffset);
    return b;
  }
}

export function requestTemplate(op: LoadOp, uid = '00000000-0000-0000-0000-000000000000'): RequestTemplate {
  const id = 0x7fffffff;
  switch (op) {
    case 'get': return new RequestTemplate(vcenter.get(id, uid));
    case 'create': return new RequestTemplate(vcenter.create(id));
    case 'discover': return new RequestTemplate(vcenter.discoverVersions(id));
  }
}

// Result Status (0x42007F), Enumeration, length 4.
const RESULT_STATUS = Buffer.from([0x42, 0x00, 0x7f, 0x05, 0x00, 0x00, 0x00, 0x04]);
// Result Message (0x42007D), Text String.
const RESULT_MESSAGE = Buffer.from([0x42, 0x00, 0x7d, 0x07]);

/**
 * Checks a response message without decoding it: every Result Status is
 * Success (0) and the request's Unique Batch Item ID is echoed. Returns
 * undefined when fine, else a short description of the failure.
 */
export function checkResponse(res: Buffer, req: Buffer): string | undefined {
  let at = res.indexOf(RESULT_STATUS);
  if (at < 0) return 'no Result Status in the response';
  while (at >= 0) {
    const status = res.readUInt32BE(at + 8);
    if (status !== 0) {
      const m = res.indexOf(RESULT_MESSAGE);
      const text = m >= 0 ? res.toString('utf8', m + 8, m + 8 + Math.min(res.readUInt32BE(m + 4), 120)) : '';
      return `Result Status ${status}${text ? `: ${text}` : ''}`;
    }
    at = res.indexOf(RESULT_STATUS, at + 12);
  }
  const id = req.indexOf('QLKC');
  if (id >= 0 && res.indexOf(req.subarray(id, id + 8)) < 0) return 'Unique Batch Item ID not echoed';
  return undefined;
}

/** For the echo baseline: the reply must be the request's bytes. */
export function checkEcho(res: Buffer, req: Buffer): string | undefined {
  return res.equals(req) ? undefined : 'echo differs from the request';
}
