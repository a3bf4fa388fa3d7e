// KMIP 1.4 §4.13 Get Attribute List (errors: §11.14).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { presentNames } from '../model/attributes';
import { requireUid } from './common';

export async function getAttributeList(core: Core, c: OpContext, req: lifecycleV1.GetAttributeListRequest): Promise<lifecycleV1.GetAttributeListResponse> {
  const uid = requireUid(req.uniqueIdentifier);
  c.uid = uid;
  const ctx = await core.resolve(c, req.caller, uid);
  return { uniqueIdentifier: uid, attributeNames: presentNames(core.current(ctx.object, uid)) };
}
