import { badRequest } from '../../errors';

// Endpoint conventions (docs/keyprotect-api.md): both services speak the
// key-management API under /api/v2/ of their base URL.

export const DEFAULT_IAM_ENDPOINT = 'https://iam.cloud.ibm.com';

/** https://<region>.kms.cloud.ibm.com, or private.<region>… on the private network. */
export function keyProtectEndpoint(region: string, opts: { private?: boolean } = {}): string {
  return `https://${opts.private ? 'private.' : ''}${region}.kms.cloud.ibm.com`;
}

/** https://<instance_id>.api[.private].<region>.hs-crypto.appdomain.cloud */
export function hpcsEndpoint(instanceId: string, region: string, opts: { private?: boolean } = {}): string {
  return `https://${instanceId}.api.${opts.private ? 'private.' : ''}${region}.hs-crypto.appdomain.cloud`;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

/**
 * Validates a configured base URL and returns it without a trailing "/" or
 * "/api/v2". Plain http is accepted for loopback hosts (tests, the local
 * emulator) or when allowHttp is set: the bearer token travels with every call.
 * Whether the host may be contacted at all is HostAllowList's business (hosts.ts).
 */
export function normalizeEndpoint(raw: string, what: string, allowHttp: boolean): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Not echoed: a malformed URL may still hold a password.
    throw badRequest(`${what} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badRequest(`${what} must be an https URL`);
  if (u.username || u.password) throw badRequest(`${what} must not carry credentials (user:password@): crk-wrapping sends the tenant's own`);
  if (u.search || u.hash) throw badRequest(`${what} must not carry a query or a fragment`);
  if (u.protocol === 'http:' && !allowHttp && !LOOPBACK.test(u.hostname)) {
    throw badRequest(`${what} ${u.origin} is plain http; use https (or set WRAPPING_ALLOW_HTTP=true for a local stack)`);
  }
  const path = u.pathname.replace(/\/+$/, '').replace(/\/api\/v2$/, '');
  return `${u.origin}${path}`;
}

/** A note when a production host does not follow the service's convention (loopback hosts are tests). */
export function conventionMismatch(kind: 'keyprotect' | 'hpcs', endpoint: string, instanceId: string): string | undefined {
  const host = new URL(endpoint).hostname;
  if (LOOPBACK.test(host)) return undefined;
  if (kind === 'hpcs' && !(host.startsWith(`${instanceId}.api.`) && host.endsWith('.hs-crypto.appdomain.cloud'))) {
    return `HPCS endpoints are https://<instance_id>.api[.private].<region>.hs-crypto.appdomain.cloud; ${host} is not one for instance ${instanceId}`;
  }
  if (kind === 'keyprotect' && !host.endsWith('.kms.cloud.ibm.com')) {
    return `Key Protect endpoints are https://[private.]<region>.kms.cloud.ibm.com; ${host} is not one`;
  }
  return undefined;
}
