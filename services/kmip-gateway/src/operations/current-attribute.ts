// KMIP 2.x names the attribute instance that Modify and Delete Attribute act
// on by its value (Current Attribute, KMIP 2.0 spec §6.1.16, §6.1.32); the
// lifecycle API names it by index, as KMIP 1.x does. This finds the index.
import { KmipError, ResultReason, Tag, TtlvNode, encodeTtlv } from '@keywarden/kmip';
import { fromProtoValue } from '../convert';
import { OpContext } from './context';

/** Index of the instance of `name` whose value is `value`; Attribute Not Found when none has it. */
export async function instanceIndex(ctx: OpContext, uid: string, name: string, value: TtlvNode): Promise<number> {
  const r = await ctx.backend.getAttributes({ caller: ctx.caller, uniqueIdentifier: uid, attributeNames: [name] });
  const want = encodeTtlv({ ...value, tag: Tag.AttributeValue } as TtlvNode);
  const hit = r.attributes.find((a) => a.name === name && encodeTtlv(fromProtoValue(a.value)).equals(want));
  if (!hit) throw new KmipError(ResultReason.AttributeNotFound, `no instance of "${name}" has the value given as Current Attribute`);
  return hit.index;
}
