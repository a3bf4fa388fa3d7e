// Reading typed fields out of a generic TTLV structure, with errors that
// name the field. Unknown fields are tolerated (forward compatibility), but a
// known field with the wrong item type is an Invalid Field error.

import { MessageFormatError } from '../errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { ResultReason, TAG_INFO } from '../generated';

export function tagName(tag: number): string {
  return TAG_INFO.get(tag)?.specName ?? `0x${tag.toString(16)}`;
}

const TYPE_LABEL: Record<number, string> = {
  1: 'Structure', 2: 'Integer', 3: 'Long Integer', 4: 'Big Integer', 5: 'Enumeration', 6: 'Boolean',
  7: 'Text String', 8: 'Byte String', 9: 'Date-Time', 10: 'Interval', 11: 'Date-Time Extended',
};

interface ValueMap {
  1: TtlvNode[]; 2: number; 3: bigint; 4: bigint; 5: number; 6: boolean; 7: string; 8: Buffer; 9: bigint; 10: number; 11: bigint;
}
type T_ = keyof ValueMap;
type ValueOf<T extends T_> = ValueMap[T];

export class StructReader {
  private readonly children: TtlvNode[];

  constructor(readonly node: TtlvNode, expectedTag?: number) {
    if (node.type !== ItemType.Structure) throw new MessageFormatError(`${tagName(node.tag)} must be a Structure`, ResultReason.InvalidField);
    if (expectedTag !== undefined && node.tag !== expectedTag) {
      throw new MessageFormatError(`expected ${tagName(expectedTag)}, found ${tagName(node.tag)}`);
    }
    this.children = node.value;
  }

  private check<T extends T_>(n: TtlvNode, type: T): ValueOf<T> {
    if (n.type !== type) {
      throw new MessageFormatError(`${tagName(n.tag)} must be a ${TYPE_LABEL[type]}, not a ${TYPE_LABEL[n.type] ?? n.type}`, ResultReason.InvalidField);
    }
    return n.value as ValueOf<T>;
  }

  /** The first child with this tag, or undefined. */
  node_(tag: number): TtlvNode | undefined {
    for (const c of this.children) if (c.tag === tag) return c;
    return undefined;
  }

  opt<T extends T_>(tag: number, type: T): ValueOf<T> | undefined {
    const n = this.node_(tag);
    if (n === undefined) return undefined;
    return this.check(n, type);
  }

  req<T extends T_>(tag: number, type: T): ValueOf<T> {
    const n = this.node_(tag);
    if (n === undefined) throw new MessageFormatError(`${tagName(this.node.tag)} is missing ${tagName(tag)}`, ResultReason.InvalidField);
    return this.check(n, type);
  }

  all<T extends T_>(tag: number, type: T): ValueOf<T>[] {
    const out: ValueOf<T>[] = [];
    for (const c of this.children) if (c.tag === tag) out.push(this.check(c, type));
    return out;
  }

  /** Every child with this tag, as nodes (for structures). */
  nodes(tag: number): TtlvNode[] {
    return this.children.filter((c) => c.tag === tag);
  }

  struct(tag: number): StructReader | undefined {
    const n = this.node_(tag);
    return n === undefined ? undefined : new StructReader(n);
  }

  reqStruct(tag: number): StructReader {
    const n = this.node_(tag);
    if (n === undefined) throw new MessageFormatError(`${tagName(this.node.tag)} is missing ${tagName(tag)}`, ResultReason.InvalidField);
    return new StructReader(n);
  }
}

/** Builds a structure's children, skipping undefined optional values. */
export class StructBuilder {
  readonly items: TtlvNode[] = [];

  add(...nodes: Array<TtlvNode | undefined>): this {
    for (const n of nodes) if (n !== undefined) this.items.push(n);
    return this;
  }

  text(tag: number, v: string | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.TextString, value: v });
    return this;
  }

  enumeration(tag: number, v: number | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.Enumeration, value: v });
    return this;
  }

  integer(tag: number, v: number | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.Integer, value: v });
    return this;
  }

  longInteger(tag: number, v: bigint | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.LongInteger, value: v });
    return this;
  }

  boolean(tag: number, v: boolean | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.Boolean, value: v });
    return this;
  }

  bytes(tag: number, v: Buffer | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.ByteString, value: v });
    return this;
  }

  dateTime(tag: number, v: bigint | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.DateTime, value: v });
    return this;
  }

  interval(tag: number, v: number | undefined): this {
    if (v !== undefined) this.items.push({ tag, type: ItemType.Interval, value: v });
    return this;
  }

  build(tag: number): TtlvNode {
    return { tag, type: ItemType.Structure, value: this.items };
  }
}
