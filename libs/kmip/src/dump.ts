// A readable, indented view of a TTLV tree: tag names from the registry,
// item types, values with enumeration names, for debug logs and test failure
// messages. Key material and secrets never appear: byte strings show their
// length only (unless the caller asks for hex), and the text of secret tags
// (passwords) is hidden.
//
//   RequestMessage (Structure)
//     RequestHeader (Structure)
//       ProtocolVersion (Structure)
//         ProtocolVersionMajor (Integer): 1
//     BatchItem (Structure)
//       Operation (Enumeration): Get (0x0000000a)
//       RequestPayload (Structure)
//         UniqueIdentifier (TextString): "0b4c…"
import { ENUM_INFO, Tag, TAG_INFO } from './generated';
import { decodeTtlv } from './ttlv/decode';
import { ITEM_TYPE_NAMES, ItemType, TtlvNode } from './ttlv/types';

export interface DumpOptions {
  /** Byte strings as hex (only for data known not to be secret); default: their length only. */
  bytes?: 'length' | 'hex';
  /** Stop after this many lines (a huge message stays a readable log line). Default 400. */
  maxLines?: number;
  /** Text strings longer than this are cut. Default 120. */
  maxText?: number;
}

/** Tags whose text is a secret. */
const SECRET_TEXT = new Set<number>([Tag.Password, Tag.OneTimePassword]);

function tagLabel(tag: number): string {
  return TAG_INFO.get(tag)?.name ?? `0x${tag.toString(16).padStart(6, '0')}`;
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** An Enumeration or Integer value of an enumerated tag, named when the registry knows it. */
function enumText(tag: number, value: number): string {
  const info = TAG_INFO.get(tag);
  const e = info?.enumName ? ENUM_INFO.get(info.enumName) : undefined;
  if (!e) return hex32(value);
  if (e.isMask) {
    const names = e.values.filter((v) => (value & v.value) !== 0).map((v) => v.name);
    return `${names.join('|') || '0'} (${hex32(value)})`;
  }
  const v = e.values.find((x) => x.value === value);
  return v ? `${v.name} (${hex32(value)})` : hex32(value);
}

function dateText(seconds: bigint): string {
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? `${new Date(ms).toISOString()} (${seconds})` : String(seconds);
}

function valueText(n: TtlvNode, o: Required<DumpOptions>): string {
  switch (n.type) {
    case ItemType.Integer: {
      const info = TAG_INFO.get(n.tag);
      return info?.enumName ? enumText(n.tag, n.value) : String(n.value);
    }
    case ItemType.Enumeration:
      return enumText(n.tag, n.value);
    case ItemType.LongInteger:
    case ItemType.BigInteger:
      return String(n.value);
    case ItemType.Boolean:
      return String(n.value);
    case ItemType.TextString: {
      if (SECRET_TEXT.has(n.tag)) return `<hidden, ${n.value.length} characters>`;
      const t = n.value.length > o.maxText ? `${n.value.slice(0, o.maxText)}…` : n.value;
      return JSON.stringify(t);
    }
    case ItemType.ByteString:
      return o.bytes === 'hex' ? n.value.toString('hex') : `<${n.value.length} bytes>`;
    case ItemType.DateTime:
      return dateText(n.value);
    case ItemType.DateTimeExtended:
      return `${n.value} µs`;
    case ItemType.Interval:
      return `${n.value} s`;
    default:
      return '';
  }
}

/** The tree (or the bytes of a message, decoded leniently) as indented lines. */
export function dumpTtlv(input: TtlvNode | Buffer, options: DumpOptions = {}): string {
  const o: Required<DumpOptions> = { bytes: options.bytes ?? 'length', maxLines: options.maxLines ?? 400, maxText: options.maxText ?? 120 };
  let root: TtlvNode;
  if (Buffer.isBuffer(input)) {
    try {
      root = decodeTtlv(input);
    } catch (e) {
      return `<${input.length} bytes that are not a TTLV message: ${(e as Error).message}>`;
    }
  } else {
    root = input;
  }
  const lines: string[] = [];
  let cut = false;
  const walk = (n: TtlvNode, depth: number): void => {
    if (lines.length >= o.maxLines) {
      cut = true;
      return;
    }
    const head = `${'  '.repeat(depth)}${tagLabel(n.tag)} (${ITEM_TYPE_NAMES[n.type] ?? n.type})`;
    if (n.type === ItemType.Structure) {
      lines.push(head);
      for (const c of n.value) walk(c, depth + 1);
    } else {
      lines.push(`${head}: ${valueText(n, o)}`);
    }
  };
  walk(root, 0);
  if (cut) lines.push(`… (cut after ${o.maxLines} lines)`);
  return lines.join('\n');
}
