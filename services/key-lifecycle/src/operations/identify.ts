// Resolves a client certificate to its tenant (the gateway calls this once per connection).
import type { lifecycleV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';

export async function identify(core: Core, c: OpContext, req: lifecycleV1.IdentifyRequest): Promise<lifecycleV1.IdentifyResponse> {
  const ctx = await core.resolve(c, req.caller);
  return { tenantId: ctx.tenant.id };
}
