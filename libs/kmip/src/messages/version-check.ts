// Version-aware output: a response to a KMIP 1.1 request must contain no tag,
// enumeration value or standard attribute that 1.1 does not define (strict
// clients such as vCenter reject them; see docs/vcenter.md).
//
// This runs on every response, so the registry is folded into bit masks once:
// bit i of a mask is set when KMIP_VERSIONS[i] defines the tag or value.

import { TtlvEncodeError } from '../ttlv/errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { ENUM_INFO, KMIP_VERSIONS, KmipVersion, TAG_BY_SPEC_NAME, TAG_INFO, Tag, enumValueDefinedIn } from '../generated';
import { isCustomName } from './attributes';
import { ProtocolVersion, versionKey } from './version';

export interface VersionViolation {
  path: string;
  problem: string;
}

const VERSION_INDEX = new Map<KmipVersion, number>(KMIP_VERSIONS.map((v, i) => [v, i]));

function rangeMask(since: KmipVersion, until: KmipVersion | undefined): number {
  const from = VERSION_INDEX.get(since)!;
  const to = until === undefined ? KMIP_VERSIONS.length - 1 : VERSION_INDEX.get(until)!;
  let m = 0;
  for (let i = from; i <= to; i++) m |= 1 << i;
  return m;
}

/** 0x42xxxx tags: versions defining each (0 = unknown tag). */
const TAG_MASK = new Uint8Array(0x10000);
for (const t of TAG_INFO.values()) if (t.tag >>> 16 === 0x42) TAG_MASK[t.tag & 0xffff] = rangeMask(t.since, t.until);

/** Enumerations (not bit masks): value -> versions defining it. */
const ENUM_VALUE_MASK = new Map<string, Map<number, number>>();
for (const e of ENUM_INFO.values()) {
  if (e.isMask) continue;
  ENUM_VALUE_MASK.set(e.name, new Map(e.values.map((v) => [v.value, rangeMask(v.since, v.until)])));
}

function enumDefined(enumName: string, value: number, key: KmipVersion, bit: number): boolean {
  const values = ENUM_VALUE_MASK.get(enumName);
  if (values === undefined) return enumValueDefinedIn(enumName, value, key); // bit masks and the like
  return ((values.get(value) ?? 0) & bit) !== 0;
}

/** Enumeration values from here on are extensions (KMIP 1.4 §9.1.1.1, KMIP 2.1 §11: 8XXXXXXX). */
const EXTENSION_VALUES = 0x80000000;

function label(tag: number): string {
  return TAG_INFO.get(tag)?.specName ?? `0x${tag.toString(16)}`;
}

/** Lists everything in `tree` that version `v` does not define. Extension tags (0x54xxxx) are allowed. */
export function versionViolations(tree: TtlvNode, v: ProtocolVersion): VersionViolation[] {
  const key = versionKey(v);
  if (!key) return [{ path: '', problem: `unsupported version ${v.major}.${v.minor}` }];
  const bit = 1 << VERSION_INDEX.get(key)!;
  const out: VersionViolation[] = [];
  const stack: TtlvNode[] = [];
  // Paths are built only when something is wrong.
  const report = (n: TtlvNode, problem: string) => out.push({ path: [...stack, n].map((x) => label(x.tag)).join('/'), problem });

  const walk = (n: TtlvNode, enumName: string | undefined): void => {
    const hi = n.tag >>> 16;
    if (hi === 0x42) {
      if ((TAG_MASK[n.tag & 0xffff] & bit) === 0) report(n, `tag ${label(n.tag)} is not defined in KMIP ${key}`);
    } else if (hi !== 0x54) {
      report(n, `tag ${label(n.tag)} is outside the KMIP ranges`);
    }
    if (n.type === ItemType.Enumeration) {
      const en = enumName ?? TAG_INFO.get(n.tag)?.enumName;
      // 8XXXXXXX values are extensions every version allows (KMIP 1.4 §9.1.1.1; an Opaque Data Type, a Secret Data Type).
      if (en && n.value < EXTENSION_VALUES && !enumDefined(en, n.value, key, bit)) report(n, `${en} value 0x${n.value.toString(16)} is not defined in KMIP ${key}`);
      return;
    }
    if (n.type !== ItemType.Structure) return;
    // 1.x Attribute: the value's enumeration (and the attribute itself) come
    // from its name. (In 2.x an Attribute is a vendor attribute, named within
    // its vendor's namespace.)
    let valueEnum: string | undefined;
    if (n.tag === Tag.Attribute && v.major === 1) {
      const nameNode = n.value.find((c) => c.tag === Tag.AttributeName);
      const name = nameNode?.type === ItemType.TextString ? nameNode.value : undefined;
      if (name && !isCustomName(name)) {
        const a = TAG_BY_SPEC_NAME.get(name);
        if (!a || (TAG_MASK[a.tag & 0xffff] & bit) === 0) report(n, `attribute "${name}" is not defined in KMIP ${key}`);
        valueEnum = a?.enumName;
      }
    }
    stack.push(n);
    for (const c of n.value) walk(c, c.tag === Tag.AttributeValue ? valueEnum : undefined);
    stack.pop();
  };
  walk(tree, undefined);
  return out;
}

/** Throws when `tree` holds anything `v` does not define (a server bug, never the client's fault). */
export function assertDefinedIn(tree: TtlvNode, v: ProtocolVersion): void {
  const bad = versionViolations(tree, v);
  if (bad.length) throw new TtlvEncodeError(`response not valid for KMIP ${v.major}.${v.minor}: ${bad.map((b) => `${b.path}: ${b.problem}`).join('; ')}`);
}
