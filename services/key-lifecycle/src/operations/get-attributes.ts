// KMIP 1.4 §4.12 Get Attributes (errors: §11.13).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { invalidMessage } from '../errors';
import { allAttributes, attributeDef } from '../model/attributes';
import { attributeOut, requireUid } from './common';

export async function getAttributes(core: Core, c: OpContext, req: lifecycleV1.GetAttributesRequest): Promise<lifecycleV1.GetAttributesResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const ctx = await core.resolve(c, req.caller, uid);
  const rec = core.current(ctx.object, uid);
  if (new Set(req.attributeNames).size !== req.attributeNames.length) throw invalidMessage('the same Attribute Name is requested more than once');
  let attributes: lifecycleV1.Attribute[];
  if (req.attributeNames.length === 0) {
    attributes = allAttributes(rec).map((a) => attributeOut(a.name, a.instance));
  } else {
    // Names the object does not have (or the server does not know) are left out.
    attributes = req.attributeNames.flatMap((name) => (attributeDef(name)?.read(rec) ?? []).map((i) => attributeOut(name, i)));
  }
  return { uniqueIdentifier: uid, attributes };
}
