// KMIP 1.4 §4.16 Delete Attribute (errors: §11.17).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { deleteAttribute as deleteFromRecord, instanceWithValue } from '../model/attributes';
import { fromProto } from '../model/values';
import { attributeOut, requireUid } from './common';

export async function deleteAttribute(core: Core, c: OpContext, req: lifecycleV1.DeleteAttributeRequest): Promise<lifecycleV1.DeleteAttributeResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  if (!req.attributeName) throw invalidField('an Attribute Name is required');
  const current = req.currentValue ? fromProto(req.currentValue, `Current Attribute "${req.attributeName}"`) : undefined;
  const ctx = await core.resolve(c, req.caller, uid);
  const { out } = await core.mutate(ctx.tenant.id, uid, ctx.object, (r, now) =>
    deleteFromRecord(r, req.attributeName, current ? instanceWithValue(r, req.attributeName, current) : req.attributeIndex, now));
  return { uniqueIdentifier: uid, attribute: attributeOut(req.attributeName, out) };
}
