import { badRequest } from './errors';

// The sealed reference key-lifecycle stores: opaque to it, versioned here.
//
// Format 1 (all lengths unsigned, big-endian):
//   "KW" | u8 format = 1 | u8 kind | u8 len, CRK id | u8 len, CRK version | body
//   kind 1, standard key (Key Protect, HPCS): body = u8 len, standard key id
//   kind 2, wrapped blob (PKCS#11):           body = u8 mechanism, u16 len, blob
// The CRK id is recorded so a reference stays openable after the tenant's
// configured root key changes (the next rewrap moves it to the new one).

const MAGIC = 0x4b57; // "KW"
const FORMAT = 1;

export const RefKind = { StandardKey: 1, WrappedBlob: 2 } as const;

/** PKCS#11 wrapping mechanisms recorded in a blob reference. */
export const WrapMech = { AesKeyWrapPad: 1, AesKeyWrap: 2 } as const;
export type WrapMech = (typeof WrapMech)[keyof typeof WrapMech];

export type SealedRef =
  | { kind: typeof RefKind.StandardKey; crkId: string; crkVersion: string; keyId: string }
  | { kind: typeof RefKind.WrappedBlob; crkId: string; crkVersion: string; mech: WrapMech; blob: Buffer };

function short(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new Error(`${what} is longer than 255 bytes`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

export function encodeRef(r: SealedRef): Buffer {
  const head = Buffer.from([MAGIC >> 8, MAGIC & 0xff, FORMAT, r.kind]);
  const common = [head, short(r.crkId, 'CRK id'), short(r.crkVersion, 'CRK version')];
  if (r.kind === RefKind.StandardKey) return Buffer.concat([...common, short(r.keyId, 'standard key id')]);
  if (r.blob.length > 0xffff) throw new Error('wrapped blob is longer than 65535 bytes');
  const len = Buffer.alloc(3);
  len[0] = r.mech;
  len.writeUInt16BE(r.blob.length, 1);
  return Buffer.concat([...common, len, r.blob]);
}

/** Parses a reference strictly; anything else is INVALID_ARGUMENT. */
export function decodeRef(buf: Buffer): SealedRef {
  let off = 0;
  const need = (n: number) => {
    if (off + n > buf.length) throw badRequest('the sealed reference is truncated');
  };
  const u8 = () => { need(1); return buf[off++]; };
  const str = () => {
    const n = u8();
    need(n);
    const s = buf.toString('utf8', off, off + n);
    off += n;
    return s;
  };
  need(4);
  if (buf.readUInt16BE(0) !== MAGIC) throw badRequest('the sealed reference was not made by crk-wrapping');
  if (buf[2] !== FORMAT) throw badRequest(`sealed reference format ${buf[2]} is not supported by this crk-wrapping version (knows ${FORMAT})`);
  const kind = buf[3];
  off = 4;
  const crkId = str();
  const crkVersion = str();
  let ref: SealedRef;
  if (kind === RefKind.StandardKey) {
    ref = { kind, crkId, crkVersion, keyId: str() };
  } else if (kind === RefKind.WrappedBlob) {
    const mech = u8();
    if (mech !== WrapMech.AesKeyWrapPad && mech !== WrapMech.AesKeyWrap) throw badRequest(`unknown wrapping mechanism ${mech} in the sealed reference`);
    need(2);
    const n = buf.readUInt16BE(off);
    off += 2;
    need(n);
    ref = { kind, crkId, crkVersion, mech, blob: Buffer.from(buf.subarray(off, off + n)) };
    off += n;
  } else {
    throw badRequest(`unknown sealed reference kind ${kind}`);
  }
  if (off !== buf.length) throw badRequest('the sealed reference has trailing bytes');
  if (!crkId || !crkVersion) throw badRequest('the sealed reference names no root key');
  return ref;
}
