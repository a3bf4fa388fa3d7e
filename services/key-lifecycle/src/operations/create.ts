// KMIP 1.4 §4.1 Create (errors: §11.2).
import { randomUUID } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import { KeyFormatType, ObjectType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { nowSeconds } from '../model/record';
import { applyTemplate, checkSymmetric, DEFAULT_USAGE_MASK, newRecord, sealAndStore } from './common';

export async function create(core: Core, c: OpContext, req: lifecycleV1.CreateRequest): Promise<lifecycleV1.CreateResponse> {
  const ctx = await core.resolve(c, req.caller);
  if (req.objectType !== ObjectType.SymmetricKey) {
    throw invalidField(`Create makes Symmetric Keys (object type 2); object type ${req.objectType} is not supported`);
  }
  const now = nowSeconds();
  const uid = randomUUID();
  c.uid = uid;
  const rec = newRecord(uid, ctx.tenant.id, c.fingerprint, req.objectType, KeyFormatType.Raw, now);
  rec.originalCreationDate = now;
  const given = applyTemplate(rec, req.attributes, now);
  if (!given.has('Cryptographic Usage Mask')) rec.usageMask = DEFAULT_USAGE_MASK;
  checkSymmetric(rec);
  await sealAndStore(core, ctx.tenant, rec, 'generating and sealing the key', () => core.wrapping.generateAndSeal(ctx.tenant, { tenantId: ctx.tenant.id, uid }, rec.algorithm as number, rec.length as number));
  return { uniqueIdentifier: uid };
}
