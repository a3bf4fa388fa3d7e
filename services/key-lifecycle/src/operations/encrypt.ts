// KMIP 1.4 §4.29 Encrypt (errors: §11.27): AES-GCM and AES-CBC with the
// tenant's symmetric keys, RSA-OAEP with its public keys. Only an Active key
// with Encrypt in its usage mask encrypts.
import type { lifecycleV1 } from '@keywarden/proto';
import { ObjectType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { USES } from '../model/usage';
import { aesEncrypt, checkData, requireAes, rsaEncrypt } from './crypto/engine';
import { loadForUse, publicKey, secretBytes } from './crypto/keyring';
import { paramsFor } from './crypto/params';

export async function encrypt(core: Core, c: OpContext, req: lifecycleV1.EncryptRequest): Promise<lifecycleV1.EncryptResponse> {
  const k = await loadForUse(core, c, req.caller, req.uniqueIdentifier, USES.encrypt);
  const data = checkData(req.data, 'Encrypt');
  const p = paramsFor(req.cryptographicParameters, k.rec);
  if (k.rec.objectType === ObjectType.PublicKey) {
    const pub = publicKey(k);
    return { uniqueIdentifier: k.rec.uid, data: rsaEncrypt(pub.key, pub.shape, p, data), ivCounterNonce: Buffer.alloc(0), authenticatedEncryptionTag: Buffer.alloc(0) };
  }
  requireAes(k.rec.algorithm, 'encrypt');
  const key = await secretBytes(core, k);
  try {
    const r = aesEncrypt(key, p, data, req.ivCounterNonce, req.authenticatedEncryptionAdditionalData);
    return { uniqueIdentifier: k.rec.uid, data: r.data, ivCounterNonce: r.iv ?? Buffer.alloc(0), authenticatedEncryptionTag: r.tag ?? Buffer.alloc(0) };
  } finally {
    key.fill(0);
  }
}
