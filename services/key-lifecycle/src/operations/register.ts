// KMIP 1.4 §4.3 Register (errors: §11.4): Symmetric Keys, Secret Data,
// Private and Public Keys (RSA, EC), Certificates (X.509) and Opaque
// Objects. Secret material is sealed by the tenant's root key; public
// material is kept in the record. Wrapped material (Key Wrapping Data) is
// unwrapped with the named key of the tenant first, then stored like
// material given in clear. Nothing is stored when anything is wrong.
import { randomUUID } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import { CertificateType, CryptographicUsageMask as U, KeyFormatType, ObjectType, SecretDataType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField, keyFormatNotSupported } from '../errors';
import { KeyRecord, nowSeconds } from '../model/record';
import type { CallerContext } from '../store/store';
import { applyTemplate, checkSymmetric, DEFAULT_USAGE_MASK, newRecord, sealAndStore } from './common';
import { privateStored, readCertificate, readPrivateKey, readPublicKey, shapeOf } from './crypto/keys';
import { unwrapForRegister } from './crypto/key-wrapping';
import { applyShape, defaultUsageMask, MAX_SEALED_BYTES, persistPublic, setPublicKey, setPublicMaterial } from './objects';

const MAX_MATERIAL_BYTES = 64 * 1024;

/** The material of the request, unwrapped when it came wrapped. */
interface Material {
  bytes: Buffer;
  transparent?: lifecycleV1.Structure;
}

/** The new object: whose, its uid and time, and the request. */
interface New {
  core: Core;
  ctx: CallerContext;
  req: lifecycleV1.RegisterRequest;
  uid: string;
  now: number;
  /** The caller's fingerprint (normalized by core.resolve). */
  by: string;
}

export async function register(core: Core, c: OpContext, req: lifecycleV1.RegisterRequest): Promise<lifecycleV1.RegisterResponse> {
  const ctx = await core.resolve(c, req.caller);
  const given: Material = { bytes: Buffer.from(req.keyMaterial), transparent: req.transparentMaterial };
  if (given.bytes.length > MAX_MATERIAL_BYTES) throw invalidField(`key material larger than ${MAX_MATERIAL_BYTES} bytes`);
  const now = nowSeconds();
  const uid = randomUUID();
  c.uid = uid;
  const material = req.keyWrappingData ? await unwrapForRegister(core, ctx, req, req.keyWrappingData) : given;
  const n: New = { core, ctx, req, uid, now, by: c.fingerprint };
  try {
    switch (req.objectType) {
      case ObjectType.SymmetricKey:
      case ObjectType.SecretData:
        await registerSecret(n, material.bytes);
        break;
      case ObjectType.PrivateKey:
        await registerPrivateKey(n, material);
        break;
      case ObjectType.PublicKey:
        await registerPublicKey(n, material);
        break;
      case ObjectType.Certificate:
        await registerCertificate(n, material.bytes);
        break;
      case ObjectType.OpaqueObject:
        await registerOpaque(n, material.bytes);
        break;
      default:
        throw invalidField(`Register accepts Symmetric Keys (2), Secret Data (7), Private (4) and Public Keys (3), Certificates (1) and Opaque Objects (8); object type ${req.objectType} is not supported`);
    }
  } finally {
    // Unwrapped material is this call's own copy.
    if (material !== given) material.bytes.fill(0);
  }
  return { uniqueIdentifier: uid };
}

function requireMaterial(bytes: Buffer): void {
  if (bytes.length === 0) throw invalidField('the object has no key material');
}

async function registerSecret({ core, ctx, req, uid, now, by }: New, material: Buffer): Promise<void> {
  let format = req.keyFormatType;
  if (req.objectType === ObjectType.SymmetricKey) {
    format ||= KeyFormatType.Raw;
    if (format !== KeyFormatType.Raw && format !== KeyFormatType.TransparentSymmetricKey) {
      throw keyFormatNotSupported(`a symmetric key is registered as Raw (1) or Transparent Symmetric Key (7), not key format type ${format}`);
    }
  } else {
    format ||= KeyFormatType.Opaque;
    if (format !== KeyFormatType.Opaque && format !== KeyFormatType.Raw) {
      throw keyFormatNotSupported(`secret data is registered as Opaque (2) or Raw (1), not key format type ${format}`);
    }
    const sdt = req.secretDataType;
    if (sdt !== SecretDataType.Password && sdt !== SecretDataType.Seed && sdt < 0x80000000) {
      throw invalidField('secret data needs a Secret Data Type (1 Password, 2 Seed)');
    }
  }
  requireMaterial(material);
  const rec = newRecord(uid, ctx.tenant.id, by, req.objectType, format, now);
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
    if (material.length > MAX_SEALED_BYTES) throw invalidField(`secret data is at most ${MAX_SEALED_BYTES} bytes (it is sealed by the tenant's root key), not ${material.length}`);
  }
  await sealAndStore(core, ctx.tenant, rec, 'sealing the key', () => core.wrapping.seal(ctx.tenant, { tenantId: ctx.tenant.id, uid }, material));
}

async function registerPrivateKey({ core, ctx, req, uid, now, by }: New, m: Material): Promise<void> {
  if (!req.keyFormatType) throw invalidField('a private key needs its Key Format Type');
  if (!m.transparent) requireMaterial(m.bytes);
  const key = readPrivateKey(req.keyFormatType, m.bytes, m.transparent);
  const rec = newRecord(uid, ctx.tenant.id, by, ObjectType.PrivateKey, req.keyFormatType, now);
  const given = applyTemplate(rec, req.attributes, now);
  const shape = applyShape(rec, key);
  if (!given.has('Cryptographic Usage Mask')) rec.usageMask = defaultUsageMask(ObjectType.PrivateKey, shape.kind);
  const stored = privateStored(key);
  try {
    await sealAndStore(core, ctx.tenant, rec, 'sealing the key', () => core.wrapping.seal(ctx.tenant, { tenantId: ctx.tenant.id, uid }, stored));
  } finally {
    stored.fill(0);
  }
}

async function registerPublicKey({ core, ctx, req, uid, now, by }: New, m: Material): Promise<void> {
  if (!req.keyFormatType) throw invalidField('a public key needs its Key Format Type');
  if (!m.transparent) requireMaterial(m.bytes);
  const key = readPublicKey(req.keyFormatType, m.bytes, m.transparent);
  const rec = newRecord(uid, ctx.tenant.id, by, ObjectType.PublicKey, req.keyFormatType, now);
  const given = applyTemplate(rec, req.attributes, now);
  const shape = applyShape(rec, key);
  if (!given.has('Cryptographic Usage Mask')) rec.usageMask = defaultUsageMask(ObjectType.PublicKey, shape.kind);
  setPublicKey(rec, key);
  await persistPublic(core, ctx.tenant, rec);
}

async function registerCertificate({ core, ctx, req, uid, now, by }: New, value: Buffer): Promise<void> {
  const type = req.certificateType ?? 0;
  if (type !== CertificateType.X509) throw invalidField(`certificates are registered as X.509 (Certificate Type 1), not certificate type ${type}`);
  requireMaterial(value);
  const cert = readCertificate(value);
  const rec: KeyRecord = newRecord(uid, ctx.tenant.id, by, ObjectType.Certificate, 0, now);
  rec.certificateType = type;
  const given = applyTemplate(rec, req.attributes, now);
  // The subject's key, where keywarden knows its kind (a certificate of any key may be stored).
  let shape;
  try {
    shape = shapeOf(cert.publicKey);
  } catch {
    shape = undefined;
  }
  if (shape && rec.algorithm === undefined) applyShape(rec, cert.publicKey);
  if (!given.has('Cryptographic Usage Mask')) rec.usageMask = U.Verify;
  setPublicMaterial(rec, cert.der);
  await persistPublic(core, ctx.tenant, rec);
}

async function registerOpaque({ core, ctx, req, uid, now, by }: New, value: Buffer): Promise<void> {
  if (req.opaqueDataType === undefined) throw invalidField('an opaque object needs its Opaque Data Type');
  requireMaterial(value);
  if (value.length > MAX_SEALED_BYTES) throw invalidField(`an opaque object's value is at most ${MAX_SEALED_BYTES} bytes (it is sealed by the tenant's root key), not ${value.length}`);
  const rec = newRecord(uid, ctx.tenant.id, by, ObjectType.OpaqueObject, KeyFormatType.Opaque, now);
  rec.opaqueDataType = req.opaqueDataType;
  applyTemplate(rec, req.attributes, now);
  await sealAndStore(core, ctx.tenant, rec, 'sealing the object', () => core.wrapping.seal(ctx.tenant, { tenantId: ctx.tenant.id, uid }, value));
}
