import { grpc } from '@keywarden/common';
import { adminV1, wrappingV1 } from '@keywarden/proto';
import type { Core, OpContext } from '../core';
import { adminError } from '../errors';
import { checkQuotaValue, Quota, QuotaName } from '../model/quota';
import type { TenantRecord } from '../store/store';
import { providerOf } from '../wrapping';
import { adminWrappingError } from './errors';

const TENANT_ID = /^[a-z0-9-]{1,63}$/;
const P = adminV1.ProviderKind;
/** Prefix of the environment variables an env: reference may name (crk-wrapping refuses any other). */
const ENV_PREFIX = 'KEYWARDEN_CRED_';
/** Longest file: or env: reference crk-wrapping accepts. */
const MAX_REF = 1024;
/**
 * Provider fields that decide where the tenant's credential is sent (or, for
 * PKCS#11, which token gets the PIN): changing one needs the credential again.
 */
const CREDENTIAL_BOUND: ReadonlyArray<[keyof TenantRecord, string]> = [
  ['kind', 'provider.kind'], ['endpoint', 'provider.endpoint'], ['iamEndpoint', 'provider.iam_endpoint'], ['instanceId', 'provider.instance_id'],
];

/** Quota names as the Admin API spells them. */
const QUOTA_API: ReadonlyArray<[QuotaName, string]> = [
  ['objects', 'objects'], ['attributeBytes', 'attribute_bytes'], ['objectCustomBytes', 'object_custom_attribute_bytes'],
];

/** The limits a request gives (0 = not given), checked: a whole number from 1 to the limit's maximum. */
function quotaOf(q: adminV1.TenantQuota | undefined): Partial<Quota> {
  const out: Partial<Quota> = {};
  if (!q) return out;
  const given: Record<QuotaName, number> = { objects: Number(q.objects), attributeBytes: Number(q.attributeBytes), objectCustomBytes: Number(q.objectCustomAttributeBytes) };
  for (const [name, api] of QUOTA_API) {
    if (given[name] === 0) continue;
    try {
      out[name] = checkQuotaValue(name, given[name], `quota.${api}`);
    } catch (e) {
      throw adminError.invalid((e as Error).message);
    }
  }
  return out;
}

export async function tenantOut(core: Core, t: TenantRecord): Promise<adminV1.Tenant> {
  const [usage, certs] = await Promise.all([core.store.usage(t.id), core.store.certificateCount(t.id)]);
  const keys = usage.objects + usage.destroyedObjects;
  const q = core.store.quotaOf(t);
  return {
    id: t.id,
    name: t.name,
    provider: { kind: t.kind as adminV1.ProviderKind, endpoint: t.endpoint, iamEndpoint: t.iamEndpoint, instanceId: t.instanceId, crkId: t.crkId },
    credentialSource: t.credentialSource,
    createdAt: t.createdAt,
    keyCount: BigInt(keys),
    certificateCount: certs,
    quota: { objects: BigInt(q.objects), attributeBytes: BigInt(q.attributeBytes), objectCustomAttributeBytes: BigInt(q.objectCustomBytes) },
    usage: { objects: BigInt(usage.objects), attributeBytes: BigInt(usage.attributeBytes), destroyedObjects: BigInt(usage.destroyedObjects) },
    quotaDefaults: QUOTA_API.filter(([name]) => t.quota?.[name] === undefined).map(([, api]) => api),
  };
}

export async function requireTenant(core: Core, id: string): Promise<TenantRecord> {
  const t = id ? await core.store.getTenant(id) : undefined;
  if (!t || t.status !== 'active') throw adminError.notFound(`no tenant "${id}"`);
  return t;
}

function checkProvider(p: { kind: number; endpoint: string; instanceId: string }): void {
  if (p.kind === P.PROVIDER_KIND_KEYPROTECT || p.kind === P.PROVIDER_KIND_HPCS) {
    if (!/^https?:\/\/[^\s]+$/.test(p.endpoint)) throw adminError.invalid('provider.endpoint must be the http(s) base URL of the key-management API');
    if (!p.instanceId) throw adminError.invalid('provider.instance_id (the service instance GUID) is required');
  } else if (p.kind === P.PROVIDER_KIND_PKCS11) {
    if (!p.endpoint) throw adminError.invalid('provider.endpoint must be the path of the PKCS#11 module');
    if (!p.instanceId) throw adminError.invalid('provider.instance_id (the token label) is required');
  } else {
    throw adminError.invalid('provider.kind must be KEYPROTECT, HPCS or PKCS11');
  }
}

/** The credential as stored: sealed by crk-wrapping's master key, or a reference to a mounted secret. */
async function credentialOf(core: Core, credential: string | undefined, ref: string | undefined): Promise<{ credentialRef: string; credentialSource: string } | undefined> {
  if (credential !== undefined && credential !== '') {
    try {
      const sealed = await core.wrapping.sealCredential(Buffer.from(credential, 'utf8'));
      return { credentialRef: sealed.credentialRef, credentialSource: 'sealed' };
    } catch (e) {
      throw adminWrappingError(e, 'sealing the credential');
    }
  }
  if (ref !== undefined && ref !== '') {
    checkCredentialRef(ref);
    return { credentialRef: ref, credentialSource: ref };
  }
  return undefined;
}

/**
 * The syntax crk-wrapping accepts, checked before anything is stored or sent
 * (crk-wrapping enforces it, and that the file lies inside its credentials
 * directory, WRAPPING_CREDENTIALS_DIR): `file:` and an absolute path without
 * "..", or `env:KEYWARDEN_CRED_<NAME>`.
 */
function checkCredentialRef(ref: string): void {
  const usage = `credential_ref must be "file:<absolute path in crk-wrapping's credentials directory>" or "env:${ENV_PREFIX}<NAME>"`;
  if (ref.length > MAX_REF) throw adminError.invalid(`${usage}; this one is longer than ${MAX_REF} characters`);
  if (ref.startsWith('file:')) {
    const p = ref.slice(5);
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    if (/[\u0000-\u001f\u007f]/.test(p)) throw adminError.invalid(`${usage}; this path contains a control character`);
    if (p.includes('://') || p.startsWith('//')) throw adminError.invalid(`${usage}; a URL is not a path`);
    if (!p.startsWith('/')) throw adminError.invalid(`${usage}; this path is not absolute`);
    if (p.split('/').includes('..')) throw adminError.invalid(`${usage}; ".." is not allowed in the path`);
    return;
  }
  if (ref.startsWith('env:')) {
    if (!new RegExp(`^${ENV_PREFIX}[A-Z0-9_]+$`).test(ref.slice(4))) throw adminError.invalid(`${usage}; only variables named ${ENV_PREFIX}<NAME> (capital letters, digits, "_") may be named`);
    return;
  }
  throw adminError.invalid(usage);
}

/** Refuses a configuration whose root key is not usable. */
async function checkRootKeyUsable(core: Core, t: TenantRecord): Promise<void> {
  let res;
  try {
    res = await core.wrapping.checkRootKey(providerOf(t));
  } catch (e) {
    throw adminWrappingError(e, `checking root key "${t.crkId}"`);
  }
  if (res.state !== wrappingV1.RootKeyState.ROOT_KEY_STATE_ACTIVE) {
    const state = wrappingV1.rootKeyStateToJSON(res.state).replace('ROOT_KEY_STATE_', '');
    throw adminError.precondition(`root key "${t.crkId}" is ${state} in the provider${res.detail ? ` (${res.detail})` : ''}; it must be ACTIVE`);
  }
}

export async function createTenant(core: Core, req: adminV1.CreateTenantRequest): Promise<adminV1.Tenant> {
  if (!TENANT_ID.test(req.id)) throw adminError.invalid('tenant id: 1 to 63 lower-case letters, digits and "-"');
  const p = req.provider;
  if (!p) throw adminError.invalid('provider is required');
  checkProvider(p);
  if (req.createRootKey === !!p.crkId) throw adminError.invalid('give either provider.crk_id or create_root_key, not both or neither');
  const quota = quotaOf(req.quota);
  if (await core.store.getTenant(req.id)) throw adminError.exists(`tenant "${req.id}" already exists`);
  const cred = await credentialOf(core, req.credential, req.credentialRef);
  if (!cred) throw adminError.invalid('a credential (API key or PIN) or a credential_ref is required');

  const t: TenantRecord = {
    id: req.id, name: req.name || req.id, kind: p.kind, endpoint: p.endpoint, iamEndpoint: p.iamEndpoint,
    instanceId: p.instanceId, crkId: p.crkId, ...cred, createdAt: new Date().toISOString(), status: 'active', shreddedAt: '',
    ...(Object.keys(quota).length ? { quota } : {}),
  };
  if (req.createRootKey) {
    try {
      t.crkId = (await core.wrapping.createRootKey(providerOf(t), `keywarden-${req.id}`)).crkId;
    } catch (e) {
      throw adminWrappingError(e, 'creating the root key');
    }
  } else {
    await checkRootKeyUsable(core, t);
  }
  if ((await core.store.createTenant(t)) !== 'OK') throw adminError.exists(`tenant "${req.id}" already exists`);
  return tenantOut(core, t);
}

export async function listTenants(core: Core): Promise<adminV1.ListTenantsResponse> {
  const tenants: adminV1.Tenant[] = [];
  for (const id of await core.store.tenantIds()) {
    const t = await core.store.getTenant(id);
    if (t && t.status === 'active') tenants.push(await tenantOut(core, t));
  }
  return { tenants };
}

export async function getTenant(core: Core, req: adminV1.GetTenantRequest): Promise<adminV1.Tenant> {
  return tenantOut(core, await requireTenant(core, req.tenantId));
}

/**
 * The audit's account of a quota change: "objects 200000 (default) -> 5;
 * attribute_bytes 1024 -> 67108864 (default)", only for limits whose value or
 * origin (own or default) changed.
 */
function quotaChanges(core: Core, before: TenantRecord, after: TenantRecord | undefined): string {
  if (!after) return '';
  const [qb, qa] = [core.store.quotaOf(before), core.store.quotaOf(after)];
  const shown = (t: TenantRecord, q: Quota, name: QuotaName) => `${q[name]}${t.quota?.[name] === undefined ? ' (default)' : ''}`;
  return QUOTA_API.flatMap(([name, api]) => {
    const [b, a] = [shown(before, qb, name), shown(after, qa, name)];
    return b === a ? [] : [`${api} ${b} -> ${a}`];
  }).join('; ');
}

/** `c`: the operation's audit context, told which quotas changed (old -> new). */
export async function updateTenant(core: Core, req: adminV1.UpdateTenantRequest, c?: OpContext): Promise<adminV1.Tenant> {
  const t = await requireTenant(core, req.tenantId);
  const next: TenantRecord = { ...t };
  if (req.name) next.name = req.name;
  // Limits: checked before anything changes, applied with the other fields.
  const quota: Partial<Record<QuotaName, number | null>> = quotaOf(req.quota);
  for (const r of req.resetQuota) {
    const name = QUOTA_API.find(([, api]) => api === r)?.[0];
    if (!name) throw adminError.invalid(`reset_quota: "${r}" is not a quota (${QUOTA_API.map(([, api]) => api).join(', ')})`);
    if (quota[name] !== undefined) throw adminError.invalid(`quota.${r} is both given and reset`);
    quota[name] = null;
  }
  const p = req.provider;
  if (p) {
    if (p.kind) next.kind = p.kind;
    if (p.endpoint) next.endpoint = p.endpoint;
    if (p.iamEndpoint) next.iamEndpoint = p.iamEndpoint;
    if (p.instanceId) next.instanceId = p.instanceId;
    if (p.crkId) next.crkId = p.crkId;
    checkProvider(next);
    if (next.crkId !== t.crkId && (await core.store.objectCount(t.id)) > 0) {
      throw adminError.precondition('the tenant has keys wrapped by its current root key; rotate that key instead of replacing it');
    }
  }
  // Checked before sealing: a refused update leaves nothing behind.
  const given = Boolean(req.credential || req.credentialRef);
  const moved = CREDENTIAL_BOUND.filter(([k]) => next[k] !== t[k]).map(([, name]) => name);
  if (moved.length > 0 && !given) {
    throw adminError.invalid(`changing ${moved.join(', ')} would send the tenant's stored credential to another place: give the credential (or credential_ref) again in the same update`);
  }
  const cred = await credentialOf(core, req.credential, req.credentialRef);
  if (cred) Object.assign(next, cred);
  const providerChanged = ['kind', 'endpoint', 'iamEndpoint', 'instanceId', 'crkId', 'credentialRef'].some((k) => next[k as keyof TenantRecord] !== t[k as keyof TenantRecord]);
  if (providerChanged && !t.shreddedAt) await checkRootKeyUsable(core, next);
  const { id: _id, status: _status, createdAt: _created, shreddedAt: _shred, quota: _quota, ...fields } = next;
  await core.store.updateTenant(t.id, fields);
  await core.store.setTenantQuota(t.id, quota);
  await core.invalidate(t.id);
  const after = await core.store.getTenant(t.id);
  const quotaChanged = quotaChanges(core, t, after);
  if (c && quotaChanged) c.detail = { ...c.detail, quota: quotaChanged };
  return tenantOut(core, after ?? next);
}

/**
 * Ends every certificate's access, destroys every sealed object, then removes
 * every record. Safe to repeat after a failure: objects already destroyed in
 * the provider answer NOT_FOUND, which counts as done.
 */
export async function deleteTenant(core: Core, req: adminV1.DeleteTenantRequest): Promise<adminV1.DeleteTenantResponse> {
  if (req.confirmTenantId !== req.tenantId) throw adminError.invalid('confirm_tenant_id must equal tenant_id');
  const t = req.tenantId ? await core.store.getTenant(req.tenantId) : undefined;
  if (!t) throw adminError.notFound(`no tenant "${req.tenantId}"`);
  await core.store.updateTenant(t.id, { status: 'deleting' });

  let certificatesRemoved = 0;
  for (const fp of await core.store.certificateFingerprints(t.id)) {
    if (await core.store.removeCertificate(fp, `tenant ${t.id} deleted`)) certificatesRemoved++;
  }
  const total = await core.store.objectCount(t.id);
  let failures = 0;
  for (let i = 0; i < total; i += 200) {
    const objs = await core.store.getObjects(t.id, await core.store.listObjectIds(t.id, i, i + 199));
    for (const o of objs) {
      if (o?.rec.sealedRef && !(await core.destroySealedQuietly(t, o.rec.uid, Buffer.from(o.rec.sealedRef, 'base64')))) failures++;
    }
  }
  if (failures > 0) {
    throw adminError.precondition(`${failures} sealed objects could not be destroyed in the provider; the tenant stays in deletion (its certificates are removed). Retry DeleteTenant.`);
  }
  if (req.deleteRootKey && !t.shreddedAt) {
    try {
      await core.wrapping.deleteRootKey(providerOf(t), true);
    } catch (e) {
      const err = adminWrappingError(e, 'deleting the root key');
      if (err.code !== grpc.status.NOT_FOUND) throw err;
    }
  }
  await core.store.purgeTenant(t.id);
  await core.invalidate(t.id);
  return { keysDeleted: BigInt(total), certificatesRemoved };
}
