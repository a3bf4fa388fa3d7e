// Tenant quotas end to end (real Redis, crk-wrapping, the Key Protect
// emulator, gRPC over mTLS): set through the Admin API and shown with the
// tenant, refused with Server Limit Exceeded (General Failure with the same
// message to a KMIP 1.x client) while reads, Revoke and Destroy still work,
// Destroy freeing room; bad values refused; usage and Redis memory exported
// as metrics.
import { grpc } from '@keywarden/common';
import { ObjectType, Operation, ResultReason } from '@keywarden/kmip';
import { adminV1, lifecycleV1 } from '@keywarden/proto';
import { startKeyLifecycle } from '../src';
import { onWire } from './kmip-reason';
import { aesTemplate, failure, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(60_000);

let s: Stack;
let t: TenantHandle;

beforeAll(async () => {
  s = await startStack({ metricsPort: 0, metricsHost: '127.0.0.1', capacityEveryMs: 0, quotas: { objectCustomBytes: 4096 } });
  t = await s.addTenant('quota-t');
  await s.adm('updateTenant', { tenantId: t.id, quota: { objects: 3, attributeBytes: 0, objectCustomAttributeBytes: 0 } });
});

afterAll(async () => {
  await s?.close();
});

const create = (extra: lifecycleV1.Attribute[] = []) =>
  s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate(extra) });

it('shows the limits and the usage with the tenant, and which limits are the defaults', async () => {
  const shown = await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id });
  expect(shown.quota).toEqual({ objects: 3n, attributeBytes: 64n * 1024n * 1024n, objectCustomAttributeBytes: 4096n });
  expect(shown.quotaDefaults).toEqual(['attribute_bytes', 'object_custom_attribute_bytes']);
  expect(shown.usage).toEqual({ objects: 0n, attributeBytes: 0n, destroyedObjects: 0n });
});

it('refuses a Create past the objects quota with a precise message, and still reads, revokes and destroys', async () => {
  const uids = [];
  for (let i = 0; i < 3; i++) uids.push((await create()).uniqueIdentifier);
  const refused = await failure(create());
  expect(refused).toMatchObject({ code: grpc.status.OUT_OF_RANGE, reason: ResultReason.ServerLimitExceeded });
  expect(refused.message).toMatch(/^tenant "quota-t" is at its quota of 3 objects \(3 in use\); nothing was changed: destroy keys/);
  // A KMIP 1.x client (vCenter) reads General Failure with this message; a 2.x client Server Limit Exceeded.
  expect(onWire(refused.reason, Operation.Create)).toEqual({ v1: ResultReason.GeneralFailure, v2: ResultReason.ServerLimitExceeded });
  expect((await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id })).usage?.objects).toBe(3n);

  const caller = t.caller;
  expect((await s.call<lifecycleV1.GetResponse>('get', { caller, uniqueIdentifier: uids[0] })).keyMaterial).toHaveLength(32);
  await s.call('activate', { caller, uniqueIdentifier: uids[0] });
  await s.call('revoke', { caller, uniqueIdentifier: uids[0], revocationReasonCode: 5 });
  await s.call('destroy', { caller, uniqueIdentifier: uids[0] });
  const after = await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id });
  expect(after.usage).toMatchObject({ objects: 2n, destroyedObjects: 1n });
  // Destroying freed one.
  await create();
  expect((await failure(create())).code).toBe(grpc.status.OUT_OF_RANGE);
});

it('refuses custom attributes past the per-object quota, as given in configuration', async () => {
  await s.adm('updateTenant', { tenantId: t.id, quota: { objects: 10, attributeBytes: 0, objectCustomAttributeBytes: 0 } });
  const uid = (await create()).uniqueIdentifier;
  const add = (name: string, n: number) => s.call('addAttribute', { caller: t.caller, uniqueIdentifier: uid, attribute: { name, index: 0, value: { textString: 'v'.repeat(n) } } });
  await add('x-one', 3000);
  const refused = await failure(add('x-two', 3000));
  expect(refused).toMatchObject({ code: grpc.status.OUT_OF_RANGE, reason: ResultReason.ServerLimitExceeded });
  expect(refused.message).toMatch(/quota of 4096 custom attribute bytes per object/);
  expect(onWire(refused.reason, Operation.AddAttribute)).toEqual({ v1: ResultReason.GeneralFailure, v2: ResultReason.ServerLimitExceeded });
  const names = (await s.call<lifecycleV1.GetAttributeListResponse>('getAttributeList', { caller: t.caller, uniqueIdentifier: uid })).attributeNames;
  expect(names).toContain('x-one');
  expect(names).not.toContain('x-two');
  // Too many instances of one attribute stays Index Out of Bounds for a 1.x client.
  expect(onWire(ResultReason.IndexOutOfBounds, Operation.AddAttribute)).toEqual({ v1: ResultReason.IndexOutOfBounds, v2: ResultReason.ServerLimitExceeded });
});

it('refuses limits that are out of range or unknown, and puts a limit back to its default', async () => {
  expect((await failure(s.adm('updateTenant', { tenantId: t.id, quota: { objects: 10n ** 12n, attributeBytes: 0, objectCustomAttributeBytes: 0 } }))).code)
    .toBe(grpc.status.INVALID_ARGUMENT);
  expect(await failure(s.adm('updateTenant', { tenantId: t.id, resetQuota: ['keys'] }))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: expect.stringMatching(/"keys" is not a quota/) });
  const reset = await s.adm<adminV1.Tenant>('updateTenant', { tenantId: t.id, resetQuota: ['objects'] });
  expect(reset.quota?.objects).toBe(200_000n);
  expect(reset.quotaDefaults).toContain('objects');
  expect((await failure(s.adm('createTenant', {
    id: 'quota-bad', createRootKey: true, credential: 'k', quota: { objects: 0, attributeBytes: 10n ** 15n, objectCustomAttributeBytes: 0 },
    provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: s.emulator.url, iamEndpoint: s.emulator.url, instanceId: 'i-1', crkId: '' },
  }))).message).toMatch(/quota.attribute_bytes must be between 1 and/);
});

it('refuses default quotas that are negative, not whole numbers or absurd at start-up', async () => {
  for (const quotas of [{ objects: -1 }, { attributeBytes: Number.NaN }, { objectCustomBytes: 1.5 }, { objects: 1e12 }]) {
    await expect(startKeyLifecycle({ address: '127.0.0.1:0', redisUrl: s.redis.url, wrappingAddress: '127.0.0.1:1', quotas }))
      .rejects.toThrow(/quotas\.\w+ must be/);
  }
});

it('exports usage, quotas and Redis memory as metrics', async () => {
  const text = await (await fetch(`http://127.0.0.1:${s.lifecycle.metricsPort}/metrics`)).text();
  // One sample of `name` whose labels include tenant="…" (the registry adds service="key-lifecycle").
  const value = (name: string, tenant: string) => Number(new RegExp(`^${name}\\{[^}]*tenant="${tenant}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
  const usage = (await s.adm<adminV1.Tenant>('getTenant', { tenantId: t.id })).usage;
  expect(value('keywarden_lifecycle_tenant_objects', t.id)).toBe(Number(usage?.objects));
  expect(value('keywarden_lifecycle_tenant_objects_quota', t.id)).toBe(200_000);
  expect(value('keywarden_lifecycle_tenant_attribute_bytes', t.id)).toBe(Number(usage?.attributeBytes));
  expect(value('keywarden_lifecycle_tenant_destroyed_objects', t.id)).toBe(1);
  expect(/^keywarden_lifecycle_redis_used_memory_bytes\{[^}]*node="[^"]+"[^}]*\} [1-9]\d*$/m.test(text)).toBe(true);
  expect(/^keywarden_lifecycle_redis_maxmemory_bytes\{[^}]*node="[^"]+"[^}]*\} \d+$/m.test(text)).toBe(true);
});

it('says in the audit entry of an UpdateTenant which quotas changed, old -> new, and only those', async () => {
  const u = await s.addTenant('quota-audit');
  const last = async () => (await s.adm<adminV1.ListAuditResponse>('listAudit', { tenantId: u.id, op: 'Admin.UpdateTenant', limit: 1 })).entries[0];
  await s.adm('updateTenant', { tenantId: u.id, quota: { objects: 10, attributeBytes: 1_000_000, objectCustomAttributeBytes: 0 } });
  expect((await last()).detail.quota).toBe('objects 200000 (default) -> 10; attribute_bytes 67108864 (default) -> 1000000');
  await s.adm('updateTenant', { tenantId: u.id, quota: { objects: 20, attributeBytes: 1_000_000, objectCustomAttributeBytes: 0 }, resetQuota: ['object_custom_attribute_bytes'] });
  // attribute_bytes given again with the same value, object_custom_attribute_bytes reset while already the default: unchanged.
  expect((await last()).detail.quota).toBe('objects 10 -> 20');
  await s.adm('updateTenant', { tenantId: u.id, resetQuota: ['objects'] });
  expect((await last()).detail.quota).toBe('objects 20 -> 200000 (default)');
  // A change of something else: no quota in the entry.
  await s.adm('updateTenant', { tenantId: u.id, name: 'renamed' });
  const e = await last();
  expect(e.result).toBe('ok');
  expect(e.detail.quota).toBeUndefined();
});
