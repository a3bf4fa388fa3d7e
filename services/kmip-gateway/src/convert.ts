// KMIP attribute values (generic TTLV items) <-> lifecycle API AttributeValue.
import { Attribute, ItemType, Tag, TtlvNode } from '@keywarden/kmip';
import { lifecycleV1 } from '@keywarden/proto';

type PValue = lifecycleV1.AttributeValue;

function bigIntToBytes(v: bigint): Buffer {
  // Minimal two's complement, big-endian.
  let bytes = 1;
  while (v < -(1n << BigInt(bytes * 8 - 1)) || v >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  const u = v < 0n ? (1n << BigInt(bytes * 8)) + v : v;
  return Buffer.from(u.toString(16).padStart(bytes * 2, '0'), 'hex');
}

function bytesToBigInt(b: Buffer): bigint {
  if (b.length === 0) return 0n;
  let v = BigInt('0x' + b.toString('hex'));
  if (b[0] & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

/** A Buffer view of bytes from a decoded protobuf message (no copy). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function toProtoValue(n: TtlvNode): PValue {
  switch (n.type) {
    case ItemType.TextString: return { textString: n.value } as PValue;
    case ItemType.Integer: return { integer: n.value } as PValue;
    case ItemType.LongInteger: return { longInteger: n.value } as PValue;
    case ItemType.BigInteger: return { bigInteger: bigIntToBytes(n.value) } as PValue;
    case ItemType.Enumeration: return { enumeration: n.value } as PValue;
    case ItemType.Boolean: return { boolean: n.value } as PValue;
    case ItemType.ByteString: return { byteString: n.value } as PValue;
    case ItemType.DateTime: return { dateTime: n.value } as PValue;
    case ItemType.Interval: return { interval: n.value } as PValue;
    case ItemType.DateTimeExtended: return { dateTimeExtended: n.value } as PValue;
    case ItemType.Structure: return { structure: { fields: n.value.map((c) => ({ tag: c.tag, value: toProtoValue(c) })) } } as PValue;
  }
}

export function fromProtoValue(v: PValue | undefined, tag: number = Tag.AttributeValue): TtlvNode {
  if (!v) throw new Error('attribute value missing');
  if (v.textString !== undefined) return { tag, type: ItemType.TextString, value: v.textString };
  if (v.integer !== undefined) return { tag, type: ItemType.Integer, value: v.integer };
  if (v.longInteger !== undefined) return { tag, type: ItemType.LongInteger, value: BigInt(v.longInteger) };
  if (v.bigInteger !== undefined) return { tag, type: ItemType.BigInteger, value: bytesToBigInt(asBuffer(v.bigInteger)) };
  if (v.enumeration !== undefined) return { tag, type: ItemType.Enumeration, value: v.enumeration };
  if (v.boolean !== undefined) return { tag, type: ItemType.Boolean, value: v.boolean };
  if (v.byteString !== undefined) return { tag, type: ItemType.ByteString, value: asBuffer(v.byteString) };
  if (v.dateTime !== undefined) return { tag, type: ItemType.DateTime, value: BigInt(v.dateTime) };
  if (v.interval !== undefined) return { tag, type: ItemType.Interval, value: v.interval };
  if (v.dateTimeExtended !== undefined) return { tag, type: ItemType.DateTimeExtended, value: BigInt(v.dateTimeExtended) };
  if (v.structure !== undefined) return { tag, type: ItemType.Structure, value: v.structure.fields.map((f) => fromProtoValue(f.value, f.tag)) };
  throw new Error('attribute value has no kind');
}

export function toProtoAttribute(a: Attribute): lifecycleV1.Attribute {
  return { name: a.name, index: a.index ?? 0, value: toProtoValue(a.value) };
}

export function fromProtoAttribute(a: lifecycleV1.Attribute): Attribute {
  return { name: a.name, index: a.index || undefined, value: fromProtoValue(a.value) };
}
