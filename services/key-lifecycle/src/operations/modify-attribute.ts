// KMIP 1.4 §4.15 Modify Attribute (errors: §11.16).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { instanceWithValue, modifyAttribute as modifyInRecord } from '../model/attributes';
import { fromProto } from '../model/values';
import { attributeOut, requireAttribute, requireUid } from './common';

export async function modifyAttribute(core: Core, c: OpContext, req: lifecycleV1.ModifyAttributeRequest): Promise<lifecycleV1.ModifyAttributeResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const a = requireAttribute(req.attribute);
  const value = fromProto(a.value, `attribute "${a.name}"`);
  const current = req.currentValue ? fromProto(req.currentValue, `Current Attribute "${a.name}"`) : undefined;
  const ctx = await core.resolve(c, req.caller, uid);
  const { out } = await core.mutate(ctx.tenant.id, uid, ctx.object, (r, now) =>
    modifyInRecord(r, a.name, current ? instanceWithValue(r, a.name, current) : a.index, value, now));
  return { uniqueIdentifier: uid, attribute: attributeOut(a.name, out) };
}
