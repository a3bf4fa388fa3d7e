// KMIP 1.4 §4.2 Create Key Pair (errors: §11.3): an RSA (2048, 3072, 4096
// bits) or EC (P-256, P-384) pair, generated here with node:crypto. The
// private key is sealed by the tenant's root key like a symmetric key; the
// public key is kept in its record. Each half names the other with a Link
// (Public Key Link on the private key, Private Key Link on the public key,
// §3.35). Attributes of the private and public templates take precedence over
// the common ones (§4.2); a Name must be given per half, since Names are
// unique. Either both halves are stored or neither.
import { randomUUID } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import { LinkType, ObjectType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';
import { addAttribute } from '../model/attributes';
import { KeyRecord, nowSeconds } from '../model/record';
import { quotaError } from './quota';
import { applyTemplate, newRecord, sealAndStore } from './common';
import { generatePair, kindOfAlgorithm, KeyKind, privateFormats, privateStored, publicFormats, RSA_MAX_BITS, RSA_MIN_BITS } from './crypto/keys';
import { defaultUsageMask, link, persistPublic, setPublicKey, takeBack } from './objects';

const RSA_LENGTHS = new Set([2048, 3072, 4096]);

/** Each half's attributes: its own, plus the common ones it does not give itself. */
function merged(common: lifecycleV1.Attribute[], own: lifecycleV1.Attribute[]): lifecycleV1.Attribute[] {
  const mine = new Set(own.map((a) => a.name));
  return [...common.filter((a) => !mine.has(a.name)), ...own];
}

/** The pair's kind and length, checked (§11.3: bad values are Invalid Field). */
function pairShape(r: KeyRecord): { kind: KeyKind; length: number } {
  const kind = kindOfAlgorithm(r.algorithm);
  if (r.algorithm === undefined) throw invalidField('a key pair needs a Cryptographic Algorithm (RSA, ECDSA or EC)');
  if (!kind) throw invalidField(`Cryptographic Algorithm ${r.algorithm} is not supported for key pairs (RSA, ECDSA and EC are)`);
  if (r.length === undefined) throw invalidField('a key pair needs a Cryptographic Length');
  if (kind === 'rsa' && !RSA_LENGTHS.has(r.length)) throw invalidField(`RSA key pairs are 2048, 3072 or 4096 bits (${RSA_MIN_BITS} to ${RSA_MAX_BITS}), not ${r.length}`);
  if (kind === 'ec' && r.length !== 256 && r.length !== 384) throw invalidField(`EC key pairs are P-256 (length 256) or P-384 (384), not length ${r.length}`);
  return { kind, length: r.length };
}

export async function createKeyPair(core: Core, c: OpContext, req: lifecycleV1.CreateKeyPairRequest): Promise<lifecycleV1.CreateKeyPairResponse> {
  const ctx = await core.resolve(c, req.caller);
  const t = ctx.tenant;
  if (req.commonAttributes.some((a) => a.name === 'Name')) {
    throw invalidField('a Name in the common attributes would name both halves, and Names are unique: give each half its own Name');
  }
  const now = nowSeconds();
  const privUid = randomUUID();
  const pubUid = randomUUID();
  c.uid = privUid;

  // Both records complete (and every attribute checked) before anything is generated or stored.
  const priv = newRecord(privUid, t.id, c.fingerprint, ObjectType.PrivateKey, 0, now);
  const pub = newRecord(pubUid, t.id, c.fingerprint, ObjectType.PublicKey, 0, now);
  priv.originalCreationDate = now;
  pub.originalCreationDate = now;
  const privGiven = applyTemplate(priv, merged(req.commonAttributes, req.privateKeyAttributes), now);
  const pubGiven = applyTemplate(pub, merged(req.commonAttributes, req.publicKeyAttributes), now);
  const shape = pairShape(priv);
  const pubShape = pairShape(pub);
  if (kindOfAlgorithm(pub.algorithm) !== shape.kind || pubShape.length !== shape.length) {
    throw invalidField('the private and public key templates name different algorithms or lengths');
  }
  priv.keyFormatType = privateFormats(shape.kind)[0];
  pub.keyFormatType = publicFormats(shape.kind)[0];
  if (!privGiven.has('Cryptographic Usage Mask')) priv.usageMask = defaultUsageMask(ObjectType.PrivateKey, shape.kind);
  if (!pubGiven.has('Cryptographic Usage Mask')) pub.usageMask = defaultUsageMask(ObjectType.PublicKey, shape.kind);
  addAttribute(priv, 'Link', 0, link(LinkType.PublicKeyLink, pubUid), now);
  addAttribute(pub, 'Link', 0, link(LinkType.PrivateKeyLink, privUid), now);

  // Room for both, before the work.
  const q = core.store.quotaOf(t);
  const u = await core.store.usage(t.id);
  if (u.objects + 2 > q.objects) throw quotaError(t.id, { name: 'objects', limit: q.objects, used: u.objects });

  const pair = await generatePair(shape.kind, shape.length);
  setPublicKey(pub, pair.publicKey);
  const sealed = privateStored(pair.privateKey);
  try {
    await sealAndStore(core, t, priv, 'sealing the private key', () => core.wrapping.seal(t, { tenantId: t.id, uid: privUid }, sealed));
  } finally {
    sealed.fill(0);
  }
  try {
    await persistPublic(core, t, pub);
  } catch (e) {
    await takeBack(core, t, priv);
    throw e;
  }
  return { privateKeyUniqueIdentifier: privUid, publicKeyUniqueIdentifier: pubUid };
}
