// KMIP 1.4 §4.3 Register (errors: §11.4), for Symmetric Keys and Secret Data.
import { randomUUID } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import { KeyFormatType, ObjectType, SecretDataType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField, keyFormatNotSupported } from '../errors';
import { nowSeconds } from '../model/record';
import { applyTemplate, checkSymmetric, DEFAULT_USAGE_MASK, newRecord, sealAndStore } from './common';

const MAX_MATERIAL_BYTES = 64 * 1024;

export async function register(core: Core, c: OpContext, req: lifecycleV1.RegisterRequest): Promise<lifecycleV1.RegisterResponse> {
  const ctx = await core.resolve(c, req.caller);
  const material = req.keyMaterial;
  let format = req.keyFormatType;
  if (req.objectType === ObjectType.SymmetricKey) {
    format ||= KeyFormatType.Raw;
    if (format !== KeyFormatType.Raw && format !== KeyFormatType.TransparentSymmetricKey) {
      throw keyFormatNotSupported(`a symmetric key is registered as Raw (1) or Transparent Symmetric Key (7), not key format type ${format}`);
    }
  } else if (req.objectType === ObjectType.SecretData) {
    format ||= KeyFormatType.Opaque;
    if (format !== KeyFormatType.Opaque && format !== KeyFormatType.Raw) {
      throw keyFormatNotSupported(`secret data is registered as Opaque (2), not key format type ${format}`);
    }
    const sdt = req.secretDataType;
    if (sdt !== SecretDataType.Password && sdt !== SecretDataType.Seed && sdt < 0x80000000) {
      throw invalidField('secret data needs a Secret Data Type (1 Password, 2 Seed)');
    }
  } else {
    throw invalidField(`Register accepts Symmetric Keys (2) and Secret Data (7); object type ${req.objectType} is not supported`);
  }
  if (material.length === 0) throw invalidField('the object has no key material');
  if (material.length > MAX_MATERIAL_BYTES) throw invalidField(`key material larger than ${MAX_MATERIAL_BYTES} bytes`);

  const now = nowSeconds();
  const uid = randomUUID();
  c.uid = uid;
  const rec = newRecord(uid, ctx.tenant.id, c.fingerprint, req.objectType, format, now);
  const given = applyTemplate(rec, req.attributes, now);
  if (req.objectType === ObjectType.SymmetricKey) {
    if (rec.length === undefined) rec.length = material.length * 8;
    if (rec.length !== material.length * 8) {
      throw invalidField(`Cryptographic Length ${rec.length} does not match the ${material.length * 8}-bit key material`);
    }
    checkSymmetric(rec);
    if (!given.has('Cryptographic Usage Mask')) rec.usageMask = DEFAULT_USAGE_MASK;
  } else {
    rec.secretDataType = req.secretDataType;
  }
  await sealAndStore(core, ctx.tenant, rec, 'sealing the key', () => core.wrapping.seal(ctx.tenant, { tenantId: ctx.tenant.id, uid }, material));
  return { uniqueIdentifier: uid };
}
