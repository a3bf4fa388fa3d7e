// KMIP 1.4 §4.30 Decrypt (errors: §11.28): AES-GCM and AES-CBC with the
// tenant's symmetric keys, RSA-OAEP with its private keys. A Deactivated or
// Compromised key still decrypts what it protected (KMIP 1.4 §3.22).
import type { lifecycleV1 } from '@keywarden/proto';
import { ObjectType } from '@keywarden/kmip';
import type { Core, OpContext } from '../core';
import { USES } from '../model/usage';
import { aesDecrypt, checkData, requireAes, rsaDecrypt } from './crypto/engine';
import { loadForUse, privateKey, secretBytes } from './crypto/keyring';
import { paramsFor } from './crypto/params';

export async function decrypt(core: Core, c: OpContext, req: lifecycleV1.DecryptRequest): Promise<lifecycleV1.DecryptResponse> {
  const k = await loadForUse(core, c, req.caller, req.uniqueIdentifier, USES.decrypt);
  const data = checkData(req.data, 'Decrypt');
  const p = paramsFor(req.cryptographicParameters, k.rec);
  if (k.rec.objectType === ObjectType.PrivateKey) {
    const priv = await privateKey(core, k);
    return { uniqueIdentifier: k.rec.uid, data: rsaDecrypt(priv.key, p, data) };
  }
  requireAes(k.rec.algorithm, 'decrypt');
  const key = await secretBytes(core, k);
  try {
    return { uniqueIdentifier: k.rec.uid, data: aesDecrypt(key, p, data, req.ivCounterNonce, req.authenticatedEncryptionAdditionalData, req.authenticatedEncryptionTag) };
  } finally {
    key.fill(0);
  }
}
