// KMIP 1.4 §4.33 MAC (errors: §11.31): HMAC-SHA-1 to SHA-512 with the
// tenant's Active HMAC keys that allow MAC Generate.
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { USES } from '../model/usage';
import { checkData, hmac } from './crypto/engine';
import { loadForUse, secretBytes } from './crypto/keyring';
import { paramsFor } from './crypto/params';

export async function mac(core: Core, c: OpContext, req: lifecycleV1.MacRequest): Promise<lifecycleV1.MacResponse> {
  const k = await loadForUse(core, c, req.caller, req.uniqueIdentifier, USES.mac);
  const data = checkData(req.data, 'MAC');
  const p = paramsFor(req.cryptographicParameters, k.rec);
  const key = await secretBytes(core, k);
  try {
    return { uniqueIdentifier: k.rec.uid, macData: hmac(k.rec.algorithm, key, p, data) };
  } finally {
    key.fill(0);
  }
}
