// KMIP 1.4 §4.35 RNG Retrieve: bytes from the operating system's CSPRNG
// (node:crypto randomBytes), for a registered caller, bounded per request.
import { randomBytes } from 'crypto';
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { invalidField } from '../errors';

/** The most random bytes one request returns. */
export const MAX_RANDOM_BYTES = 64 * 1024;

export async function rngRetrieve(core: Core, c: OpContext, req: lifecycleV1.RngRetrieveRequest): Promise<lifecycleV1.RngRetrieveResponse> {
  await core.resolve(c, req.caller);
  const n = req.dataLength;
  if (!Number.isInteger(n) || n < 1 || n > MAX_RANDOM_BYTES) throw invalidField(`Data Length must be 1 to ${MAX_RANDOM_BYTES} bytes, not ${n}`);
  return { data: randomBytes(n) };
}
