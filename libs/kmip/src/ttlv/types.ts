// KMIP TTLV item types (KMIP 1.4 §9.1.1.2, KMIP 2.1 §9.1.1.2).
// The TTLV layer knows nothing of KMIP semantics: tags are plain numbers.

export const ItemType = {
  Structure: 0x01,
  Integer: 0x02,
  LongInteger: 0x03,
  BigInteger: 0x04,
  Enumeration: 0x05,
  Boolean: 0x06,
  TextString: 0x07,
  ByteString: 0x08,
  DateTime: 0x09,
  Interval: 0x0a,
  DateTimeExtended: 0x0b, // KMIP 2.0+
} as const;
export type ItemType = (typeof ItemType)[keyof typeof ItemType];

export const ITEM_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(ItemType).map(([k, v]) => [v, k])),
);

/** One TTLV item. Scalar values use JS types that hold every encodable value exactly. */
export type TtlvNode =
  | { tag: number; type: typeof ItemType.Structure; value: TtlvNode[] }
  | { tag: number; type: typeof ItemType.Integer; value: number } // int32
  | { tag: number; type: typeof ItemType.LongInteger; value: bigint } // int64
  | { tag: number; type: typeof ItemType.BigInteger; value: bigint } // two's complement, any size
  | { tag: number; type: typeof ItemType.Enumeration; value: number } // uint32
  | { tag: number; type: typeof ItemType.Boolean; value: boolean }
  | { tag: number; type: typeof ItemType.TextString; value: string }
  | { tag: number; type: typeof ItemType.ByteString; value: Buffer }
  | { tag: number; type: typeof ItemType.DateTime; value: bigint } // seconds since epoch, int64
  | { tag: number; type: typeof ItemType.Interval; value: number } // seconds, uint32
  | { tag: number; type: typeof ItemType.DateTimeExtended; value: bigint }; // microseconds, int64

export type StructureNode = Extract<TtlvNode, { type: 0x01 }>;

// Constructors keep call sites short and type-safe.
export const ttlv = {
  structure: (tag: number, value: TtlvNode[]): TtlvNode => ({ tag, type: ItemType.Structure, value }),
  integer: (tag: number, value: number): TtlvNode => ({ tag, type: ItemType.Integer, value }),
  longInteger: (tag: number, value: bigint): TtlvNode => ({ tag, type: ItemType.LongInteger, value }),
  bigInteger: (tag: number, value: bigint): TtlvNode => ({ tag, type: ItemType.BigInteger, value }),
  enumeration: (tag: number, value: number): TtlvNode => ({ tag, type: ItemType.Enumeration, value }),
  boolean: (tag: number, value: boolean): TtlvNode => ({ tag, type: ItemType.Boolean, value }),
  textString: (tag: number, value: string): TtlvNode => ({ tag, type: ItemType.TextString, value }),
  byteString: (tag: number, value: Buffer): TtlvNode => ({ tag, type: ItemType.ByteString, value }),
  dateTime: (tag: number, value: bigint): TtlvNode => ({ tag, type: ItemType.DateTime, value }),
  interval: (tag: number, value: number): TtlvNode => ({ tag, type: ItemType.Interval, value }),
  dateTimeExtended: (tag: number, value: bigint): TtlvNode => ({ tag, type: ItemType.DateTimeExtended, value }),
};

/** KMIP tags live in 0x420000-0x42FFFF; 0x540000-0x54FFFF is for extensions (§9.1.1.1). */
export function isValidTag(tag: number): boolean {
  const hi = tag >>> 16;
  return (hi === 0x42 || hi === 0x54) && tag <= 0xffffff;
}
