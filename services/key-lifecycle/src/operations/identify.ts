// Resolves a client certificate to its tenant (the gateway calls this once per
// connection), says whether the certificate has a password, and checks one
// when given (client-passwords.ts).
import type { lifecycleV1 } from '@keywarden/proto';
import { checkClientPassword, passwordEpoch, wrongPassword } from '../client-passwords';
import type { Core, OpContext } from '../core';
import { unknownCaller } from '../errors';

export async function identify(core: Core, c: OpContext, req: lifecycleV1.IdentifyRequest): Promise<lifecycleV1.IdentifyResponse> {
  const ctx = await core.resolve(c, req.caller);
  // The password hash is read apart from the caller's context: Identify is
  // once per connection, the other operations need only the tenant.
  const cert = await core.store.getCertificate(c.fingerprint);
  if (!cert) throw unknownCaller(); // removed in between
  if (!cert.passwordHash) return { tenantId: ctx.tenant.id };
  const res = { tenantId: ctx.tenant.id, passwordRequired: true, passwordEpoch: passwordEpoch(cert.passwordHash) };
  if (!req.password) return res;
  // The audit says that a password was checked and how it went (never the password).
  c.detail = { ...c.detail, password: 'busy' };
  const ok = await checkClientPassword(cert.passwordHash, req.password);
  c.detail.password = ok ? 'verified' : 'wrong';
  if (!ok) throw wrongPassword();
  return res;
}
