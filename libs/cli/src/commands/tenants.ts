import fs from 'fs';
import { Command } from 'commander';
import { adminV1 } from '@keywarden/proto';
import { CliError, Ctx } from '../context';
import { kv, table } from '../table';
import { deleteTenantView, tenantView } from '../views';

const KINDS: Record<string, adminV1.ProviderKind> = {
  keyprotect: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT,
  hpcs: adminV1.ProviderKind.PROVIDER_KIND_HPCS,
  pkcs11: adminV1.ProviderKind.PROVIDER_KIND_PKCS11,
};

export function kindName(k: adminV1.ProviderKind | undefined): string {
  return Object.entries(KINDS).find(([, v]) => v === k)?.[0] ?? 'unknown';
}

/** The credential never comes from argv (visible in ps): an env var, a file, or a reference kept as such. */
function credentialFrom(o: { credentialEnv?: string; credentialFile?: string; credentialRef?: string }): { credential?: string; credentialRef?: string } {
  const given = [o.credentialEnv, o.credentialFile, o.credentialRef].filter(Boolean).length;
  if (given > 1) throw new CliError('give only one of --credential-env, --credential-file, --credential-ref', 2);
  if (o.credentialEnv) {
    const v = process.env[o.credentialEnv];
    if (!v) throw new CliError(`environment variable ${o.credentialEnv} is empty or unset`, 2);
    return { credential: v };
  }
  if (o.credentialFile) return { credential: fs.readFileSync(o.credentialFile, 'utf8').trim() };
  if (o.credentialRef) {
    if (!/^(file:|env:)/.test(o.credentialRef)) throw new CliError('--credential-ref must be file:<path> (inside WRAPPING_CREDENTIALS_DIR of crk-wrapping) or env:KEYWARDEN_CRED_<NAME> (read by crk-wrapping)', 2);
    return { credentialRef: o.credentialRef };
  }
  return {};
}

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/**
 * A quota limit from the command line: a whole number above 0, bytes also
 * with KiB, MiB or GiB ("64KiB"). Anything else is refused before any call.
 */
export function quotaValue(option: string, v: string, bytes: boolean): number {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || (!bytes && m[2] !== '')) {
    throw new CliError(`${option} must be a whole number${bytes ? ' of bytes, optionally with KiB, MiB or GiB' : ''}, got "${v}"`, 2);
  }
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${option} must be at least 1, got "${v}"`, 2);
  return n;
}

/** The limits given as options (0 = not given, as the Admin API reads it). */
function quotaFrom(o: { maxKeys?: string; maxAttributeBytes?: string; maxKeyCustomBytes?: string }): adminV1.TenantQuota | undefined {
  if (!o.maxKeys && !o.maxAttributeBytes && !o.maxKeyCustomBytes) return undefined;
  return {
    objects: BigInt(o.maxKeys ? quotaValue('--max-keys', o.maxKeys, false) : 0),
    attributeBytes: BigInt(o.maxAttributeBytes ? quotaValue('--max-attribute-bytes', o.maxAttributeBytes, true) : 0),
    objectCustomAttributeBytes: BigInt(o.maxKeyCustomBytes ? quotaValue('--max-key-custom-bytes', o.maxKeyCustomBytes, true) : 0),
  };
}

/** --reset-quota names, as the CLI spells them, to the Admin API's. */
const RESET: Record<string, string> = { keys: 'objects', 'attribute-bytes': 'attribute_bytes', 'key-custom-bytes': 'object_custom_attribute_bytes' };

function resetFrom(list: string | undefined): string[] {
  if (!list) return [];
  return list.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const api = RESET[x];
    if (!api) throw new CliError(`--reset-quota takes ${Object.keys(RESET).join(', ')} (comma-separated), not "${x}"`, 2);
    return api;
  });
}

/** "12 of 200000 (0.0 %)", with "(default)" when the limit is the configured one. */
function usageOf(used: bigint | undefined, limit: bigint | undefined, isDefault: boolean): string {
  const u = Number(used ?? 0);
  const l = Number(limit ?? 0);
  const pct = l > 0 ? ` (${((100 * u) / l).toFixed(1)} %)` : '';
  return `${u} of ${l}${pct}${isDefault ? ', default limit' : ''}`;
}

export function tenantRows(ts: adminV1.Tenant[]) {
  return table(['ID', 'NAME', 'PROVIDER', 'INSTANCE', 'ROOT KEY', 'KEYS', 'CERTS', 'CREATED'],
    ts.map((t) => [t.id, t.name, kindName(t.provider?.kind), t.provider?.instanceId, t.provider?.crkId, t.keyCount, t.certificateCount, t.createdAt]));
}

export function register(program: Command, ctx: () => Ctx): void {
  const tenant = program.command('tenant').description('tenants: who owns keys, and where their root key lives');

  tenant.command('create <id>')
    .description('create a tenant bound to a root key in Key Protect, HPCS or a PKCS#11 HSM')
    .requiredOption('--provider <kind>', 'keyprotect | hpcs | pkcs11')
    .requiredOption('--url <url>', 'provider API base URL (keyprotect/hpcs) or PKCS#11 module path')
    .option('--iam-url <url>', 'IAM token URL (default https://iam.cloud.ibm.com)')
    .requiredOption('--instance <id>', 'service instance GUID, or the PKCS#11 token label')
    .option('--crk-id <id>', 'an existing root key id (or PKCS#11 key label)')
    .option('--create-root-key', 'create a new root key in the provider')
    .option('--name <name>', 'display name')
    .option('--credential-env <NAME>', 'read the API key / PIN from this environment variable (sealed with the master key)')
    .option('--credential-file <path>', 'read the API key / PIN from this file (sealed with the master key)')
    .option('--credential-ref <ref>', 'file:<path> in WRAPPING_CREDENTIALS_DIR of crk-wrapping, or env:KEYWARDEN_CRED_<NAME>: what crk-wrapping reads at use (a mounted secret)')
    .option('--max-keys <n>', 'quota: keys that are not destroyed (default: key-lifecycle\'s LIFECYCLE_QUOTA_OBJECTS)')
    .option('--max-attribute-bytes <size>', 'quota: bytes of attributes over all keys, e.g. 64MiB')
    .option('--max-key-custom-bytes <size>', 'quota: bytes of custom (x-) attributes on one key, e.g. 64KiB')
    .action(async (id: string, o) => {
      const kind = KINDS[o.provider];
      if (kind === undefined) throw new CliError(`--provider must be one of ${Object.keys(KINDS).join(', ')}`, 2);
      if (!o.crkId && !o.createRootKey) throw new CliError('give --crk-id of an existing root key, or --create-root-key', 2);
      if (o.crkId && o.createRootKey) throw new CliError('--crk-id and --create-root-key exclude each other', 2);
      const c = ctx();
      const t = await c.call<adminV1.Tenant>('createTenant', {
        id, name: o.name ?? id,
        provider: { kind, endpoint: o.url, iamEndpoint: o.iamUrl ?? '', instanceId: o.instance, crkId: o.crkId ?? '' },
        createRootKey: !!o.createRootKey,
        ...credentialFrom(o),
        quota: quotaFrom(o),
      });
      c.out(`created tenant ${t.id} (root key ${t.provider?.crkId})`, tenantView(t));
    });

  tenant.command('update <id>')
    .description('change a tenant: name, provider fields, credential (empty options are left unchanged)')
    .option('--name <name>').option('--url <url>').option('--iam-url <url>').option('--instance <id>').option('--crk-id <id>')
    .option('--credential-env <NAME>').option('--credential-file <path>').option('--credential-ref <ref>')
    .option('--max-keys <n>', 'quota: keys that are not destroyed')
    .option('--max-attribute-bytes <size>', 'quota: bytes of attributes over all keys, e.g. 64MiB')
    .option('--max-key-custom-bytes <size>', 'quota: bytes of custom (x-) attributes on one key, e.g. 64KiB')
    .option('--reset-quota <names>', 'back to the configured default: keys, attribute-bytes, key-custom-bytes (comma-separated)')
    .action(async (id: string, o) => {
      const quota = quotaFrom(o);
      const resetQuota = resetFrom(o.resetQuota);
      const c = ctx();
      const provider = o.url || o.iamUrl || o.instance || o.crkId
        ? { kind: adminV1.ProviderKind.PROVIDER_KIND_UNSPECIFIED, endpoint: o.url ?? '', iamEndpoint: o.iamUrl ?? '', instanceId: o.instance ?? '', crkId: o.crkId ?? '' }
        : undefined;
      const t = await c.call<adminV1.Tenant>('updateTenant', { tenantId: id, name: o.name ?? '', provider, ...credentialFrom(o), quota, resetQuota });
      c.out(`updated tenant ${t.id}`, tenantView(t));
    });

  tenant.command('list').description('list tenants').action(async () => {
    const c = ctx();
    const r = await c.call<adminV1.ListTenantsResponse>('listTenants', {});
    c.out(tenantRows(r.tenants), r.tenants.map(tenantView));
  });

  tenant.command('show <id>').description('show one tenant').action(async (id: string) => {
    const c = ctx();
    const t = await c.call<adminV1.Tenant>('getTenant', { tenantId: id });
    c.out(kv([
      ['id', t.id], ['name', t.name], ['provider', kindName(t.provider?.kind)], ['endpoint', t.provider?.endpoint],
      ['iam endpoint', t.provider?.iamEndpoint], ['instance', t.provider?.instanceId], ['root key', t.provider?.crkId],
      ['credential', t.credentialSource], ['keys', t.keyCount], ['certificates', t.certificateCount], ['created', t.createdAt],
      ['quota: keys', usageOf(t.usage?.objects, t.quota?.objects, t.quotaDefaults.includes('objects'))],
      ['quota: attribute bytes', usageOf(t.usage?.attributeBytes, t.quota?.attributeBytes, t.quotaDefaults.includes('attribute_bytes'))],
      ['quota: custom bytes per key', `${Number(t.quota?.objectCustomAttributeBytes ?? 0)}${t.quotaDefaults.includes('object_custom_attribute_bytes') ? ', default limit' : ''}`],
      ['destroyed keys kept', t.usage?.destroyedObjects],
    ]), tenantView(t));
  });

  tenant.command('delete <id>')
    .description('delete a tenant with its certificates and keys (their sealed objects too)')
    .requiredOption('--confirm <id>', 'repeat the tenant id')
    .option('--delete-root-key', 'also delete the root key in the provider')
    .action(async (id: string, o) => {
      if (o.confirm !== id) throw new CliError('--confirm must repeat the tenant id exactly', 2);
      const c = ctx();
      const r = await c.call<adminV1.DeleteTenantResponse>('deleteTenant', { tenantId: id, confirmTenantId: o.confirm, deleteRootKey: !!o.deleteRootKey });
      c.out(`deleted tenant ${id}: ${r.keysDeleted} keys, ${r.certificatesRemoved} certificates`, deleteTenantView(r));
    });
}
