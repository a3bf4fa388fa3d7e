// Version-aware output: a response to a KMIP 1.1 request must contain no tag,
// enumeration value or standard attribute that 1.1 does not define (strict
// clients such as vCenter reject them; see shared/vcenter.md).

import { TtlvEncodeError } from '../ttlv/errors';
import { ItemType, TtlvNode } from '../ttlv/types';
import { TAG_BY_SPEC_NAME, TAG_INFO, Tag, enumValueDefinedIn, tagDefinedIn } from '../generated';
import { isCustomName } from './attributes';
import { ProtocolVersion, versionKey } from './version';

export interface VersionViolation {
  path: string;
  problem: string;
}

function label(tag: number): string {
  return TAG_INFO.get(tag)?.specName ?? `0x${tag.toString(16)}`;
}

/** Lists everything in `tree` that version `v` does not define. Extension tags (0x54xxxx) are allowed. */
export function versionViolations(tree: TtlvNode, v: ProtocolVersion): VersionViolation[] {
  const key = versionKey(v);
  if (!key) return [{ path: '', problem: `unsupported version ${v.major}.${v.minor}` }];
  const out: VersionViolation[] = [];
  const walk = (n: TtlvNode, path: string, enumName: string | undefined) => {
    const here = path ? `${path}/${label(n.tag)}` : label(n.tag);
    const ext = n.tag >>> 16 === 0x54;
    const info = TAG_INFO.get(n.tag);
    if (!ext && !tagDefinedIn(n.tag, key)) out.push({ path: here, problem: `tag ${label(n.tag)} is not defined in KMIP ${key}` });
    const en = enumName ?? info?.enumName;
    if (n.type === ItemType.Enumeration && en && !enumValueDefinedIn(en, n.value, key)) {
      out.push({ path: here, problem: `${en} value 0x${n.value.toString(16)} is not defined in KMIP ${key}` });
    }
    if (n.type !== ItemType.Structure) return;
    // 1.x Attribute: the value's enumeration (and the attribute itself) come from its name.
    let valueEnum: string | undefined;
    // (In 2.x an Attribute is a vendor attribute, named within its vendor's namespace.)
    if (n.tag === Tag.Attribute && v.major === 1) {
      const nameNode = n.value.find((c) => c.tag === Tag.AttributeName);
      const name = nameNode?.type === ItemType.TextString ? nameNode.value : undefined;
      if (name && !isCustomName(name)) {
        const a = TAG_BY_SPEC_NAME.get(name);
        if (!a || !tagDefinedIn(a.tag, key)) out.push({ path: here, problem: `attribute "${name}" is not defined in KMIP ${key}` });
        valueEnum = a?.enumName;
      }
    }
    for (const c of n.value) walk(c, here, c.tag === Tag.AttributeValue ? valueEnum : undefined);
  };
  walk(tree, '', undefined);
  return out;
}

/** Throws when `tree` holds anything `v` does not define (a server bug, never the client's fault). */
export function assertDefinedIn(tree: TtlvNode, v: ProtocolVersion): void {
  const bad = versionViolations(tree, v);
  if (bad.length) throw new TtlvEncodeError(`response not valid for KMIP ${v.major}.${v.minor}: ${bad.map((b) => `${b.path}: ${b.problem}`).join('; ')}`);
}
