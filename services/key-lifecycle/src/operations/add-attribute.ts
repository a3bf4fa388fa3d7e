// KMIP 1.4 §4.14 Add Attribute (errors: §11.15).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { addAttribute as addToRecord } from '../model/attributes';
import { fromProto } from '../model/values';
import { attributeOut, requireAttribute, requireUid } from './common';

export async function addAttribute(core: Core, c: OpContext, req: lifecycleV1.AddAttributeRequest): Promise<lifecycleV1.AddAttributeResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const a = requireAttribute(req.attribute);
  const value = fromProto(a.value, `attribute "${a.name}"`);
  const ctx = await core.resolve(c, req.caller, uid);
  const { out } = await core.mutate(ctx.tenant.id, uid, ctx.object, (r, now) => addToRecord(r, a.name, a.index, value, now));
  return { uniqueIdentifier: uid, attribute: attributeOut(a.name, out) };
}
