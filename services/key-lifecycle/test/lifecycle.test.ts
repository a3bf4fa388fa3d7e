// The KeyLifecycle API end to end: real Redis, real crk-wrapping, the Key
// Protect emulator, gRPC over mTLS.
import Redis from 'ioredis';
import { channelCredentials, grpc } from '@keywarden/common';
import { KeyFormatType, ObjectType, Operation, ResultReason, RevocationReasonCode, State, Tag } from '@keywarden/kmip';
import { lifecycleV1 } from '@keywarden/proto';
import { onWire } from './kmip-reason';
import { aesTemplate, failure, rpc, Stack, startStack, TenantHandle } from './stack';

jest.setTimeout(30_000);

let s: Stack;
let a: TenantHandle;
let b: TenantHandle;

beforeAll(async () => {
  s = await startStack();
  [a, b] = await Promise.all([s.addTenant('tenant-a'), s.addTenant('tenant-b')]);
});

afterAll(async () => {
  await s?.close();
});

const attr = (name: string, value: lifecycleV1.AttributeValue, index = 0): lifecycleV1.Attribute => ({ name, index, value });
const nameAttr = (v: string) => attr('Name', { structure: { fields: [{ tag: Tag.NameValue, value: { textString: v } }, { tag: Tag.NameType, value: { enumeration: 1 } }] } });

async function create(t: TenantHandle, extra: lifecycleV1.Attribute[] = []): Promise<string> {
  const r = await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate(extra) });
  return r.uniqueIdentifier;
}

async function attrs(t: TenantHandle, uid: string, names: string[] = []): Promise<lifecycleV1.Attribute[]> {
  return (await s.call<lifecycleV1.GetAttributesResponse>('getAttributes', { caller: t.caller, uniqueIdentifier: uid, attributeNames: names })).attributes;
}

async function state(t: TenantHandle, uid: string): Promise<number | undefined> {
  return (await attrs(t, uid, ['State']))[0]?.value?.enumeration;
}

const get = (t: TenantHandle, uid: string, keyFormatType = 0) =>
  s.call<lifecycleV1.GetResponse>('get', { caller: t.caller, uniqueIdentifier: uid, keyFormatType });

describe('the vCenter conversation (docs/vcenter.md)', () => {
  it('creates a Pre-Active AES-256 key, tags it, gets it as Raw and activates it', async () => {
    const uid = await create(a);
    for (const n of ['x-Product_Version', 'x-Vendor', 'x-Product']) {
      const r = await s.call<lifecycleV1.GetAttributesResponse>('getAttributes', { caller: a.caller, uniqueIdentifier: uid, attributeNames: [n] });
      expect(r).toEqual({ uniqueIdentifier: uid, attributes: [] });
    }
    const tags: Array<[string, string]> = [['x-Product_Version', '7.0.3 build-19480866'], ['x-Vendor', 'VMware, Inc.'], ['x-Product', 'VMware vSphere']];
    const added = await Promise.all(tags.map(([n, v]) => s.call<lifecycleV1.AddAttributeResponse>('addAttribute', { caller: a.caller, uniqueIdentifier: uid, attribute: attr(n, { textString: v }) })));
    expect(added.map((r) => [r.attribute?.name, r.attribute?.index, r.attribute?.value?.textString])).toEqual(tags.map(([n, v]) => [n, 0, v]));

    const key = await get(a, uid);
    expect(key).toMatchObject({ uniqueIdentifier: uid, objectType: ObjectType.SymmetricKey, keyFormatType: KeyFormatType.Raw, cryptographicAlgorithm: 3, cryptographicLength: 256 });
    expect(key.keyMaterial).toHaveLength(32);
    expect(await state(a, uid)).toBe(State.PreActive);
    await s.call('activate', { caller: a.caller, uniqueIdentifier: uid });
    expect(await state(a, uid)).toBe(State.Active);
    expect((await get(a, uid)).keyMaterial).toEqual(key.keyMaterial);
    const vendor = await attrs(a, uid, ['x-Vendor']);
    expect(vendor).toEqual([{ name: 'x-Vendor', index: 0, value: { textString: 'VMware, Inc.' } }]);
  });
});

describe('Create', () => {
  it('makes a key Active when its Activation Date has passed, Pre-Active when it is in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    const past = await create(a, [attr('Activation Date', { dateTime: BigInt(now - 10) })]);
    expect(await state(a, past)).toBe(State.Active);
    const at = now + 2;
    const soon = await create(a, [attr('Activation Date', { dateTime: BigInt(at) })]);
    const st = await state(a, soon);
    if (Date.now() < at * 1000) expect(st).toBe(State.PreActive);
    await new Promise((r) => setTimeout(r, Math.max(0, at * 1000 + 50 - Date.now())));
    expect(await state(a, soon)).toBe(State.Active);
    const located = await s.call<lifecycleV1.LocateResponse>('locate', { caller: a.caller, attributes: [attr('State', { enumeration: State.Active })] });
    expect(located.uniqueIdentifiers).toEqual(expect.arrayContaining([past, soon]));
  });

  it('sets the server attributes', async () => {
    const before = Math.floor(Date.now() / 1000);
    const uid = await create(a);
    const all = await attrs(a, uid);
    const byName = Object.fromEntries(all.map((x) => [x.name, x.value]));
    expect(byName['Unique Identifier']).toEqual({ textString: uid });
    expect(byName['Object Type']).toEqual({ enumeration: ObjectType.SymmetricKey });
    expect(byName['Cryptographic Usage Mask']).toEqual({ integer: 12 });
    expect(Number(byName['Initial Date']?.dateTime)).toBeGreaterThanOrEqual(before);
    expect(byName['Last Change Date']).toBeDefined();
    expect(byName['Activation Date']).toBeUndefined();
  });

  it.each([
    ['an object type it does not create', { objectType: ObjectType.SecretData, attributes: aesTemplate() }],
    ['no algorithm', { objectType: 2, attributes: aesTemplate().slice(1) }],
    ['an AES length that does not exist', { objectType: 2, attributes: [attr('Cryptographic Algorithm', { enumeration: 3 }), attr('Cryptographic Length', { integer: 100 })] }],
    ['a server-set attribute', { objectType: 2, attributes: aesTemplate([attr('State', { enumeration: 2 })]) }],
    ['an unknown attribute', { objectType: 2, attributes: aesTemplate([attr('Frobnication', { integer: 1 })]) }],
    ['a y- attribute', { objectType: 2, attributes: aesTemplate([attr('y-mine', { integer: 1 })]) }],
  ])('refuses %s with Invalid Field', async (_what, req) => {
    expect(await failure(s.call('create', { caller: a.caller, ...req }))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, reason: ResultReason.InvalidField });
  });

  it('refuses a Name another object of the tenant already has (Non-Unique Name Attribute, 1.x: Illegal Operation), and allows it in another tenant', async () => {
    await create(a, [nameAttr('vm-disk-1')]);
    const taken = await failure(create(a, [nameAttr('vm-disk-1')]));
    expect(taken).toMatchObject({ code: grpc.status.ALREADY_EXISTS, reason: ResultReason.NonUniqueNameAttribute, message: expect.stringContaining('vm-disk-1') });
    expect(onWire(taken.reason, Operation.Create).v1).toBe(ResultReason.IllegalOperation);
    await expect(create(b, [nameAttr('vm-disk-1')])).resolves.toBeDefined();
  });
});

describe('Register', () => {
  it('seals client key material and returns the same bytes', async () => {
    const material = Buffer.alloc(16, 7);
    const { uniqueIdentifier: uid } = await s.call<lifecycleV1.RegisterResponse>('register', {
      caller: a.caller, objectType: ObjectType.SymmetricKey, keyMaterial: material, keyFormatType: KeyFormatType.TransparentSymmetricKey,
      attributes: [attr('Cryptographic Algorithm', { enumeration: 3 })],
    });
    const key = await get(a, uid);
    expect(key).toMatchObject({ keyFormatType: KeyFormatType.TransparentSymmetricKey, cryptographicLength: 128 });
    expect(key.keyMaterial).toEqual(material);
    expect((await get(a, uid, KeyFormatType.Raw)).keyFormatType).toBe(KeyFormatType.Raw);
  });

  it('registers Secret Data', async () => {
    const { uniqueIdentifier: uid } = await s.call<lifecycleV1.RegisterResponse>('register', {
      caller: a.caller, objectType: ObjectType.SecretData, keyMaterial: Buffer.from('hunter2'), secretDataType: 1, attributes: [],
    });
    expect(await get(a, uid)).toMatchObject({ objectType: ObjectType.SecretData, keyFormatType: KeyFormatType.Opaque, secretDataType: 1, keyMaterial: Buffer.from('hunter2') });
  });

  it('refuses a length that does not match the material, and unsupported types and formats', async () => {
    const base = { caller: a.caller, objectType: 2, keyMaterial: Buffer.alloc(32), keyFormatType: 1 };
    expect(await failure(s.call('register', { ...base, attributes: aesTemplate().slice(0, 1).concat(attr('Cryptographic Length', { integer: 128 })) })))
      .toMatchObject({ reason: ResultReason.InvalidField });
    expect(await failure(s.call('register', { ...base, objectType: ObjectType.SplitKey, attributes: [] }))).toMatchObject({ reason: ResultReason.InvalidField });
    expect(await failure(s.call('register', { ...base, keyFormatType: KeyFormatType.PKCS8, attributes: aesTemplate().slice(0, 1) })))
      .toMatchObject({ reason: ResultReason.KeyFormatTypeNotSupported });
    expect(await failure(s.call('register', { ...base, objectType: ObjectType.SecretData, secretDataType: 0, attributes: [] }))).toMatchObject({ reason: ResultReason.InvalidField });
  });
});

describe('Get', () => {
  it('works on Pre-Active, Active, Deactivated and Compromised keys', async () => {
    const uid = await create(a);
    const first = (await get(a, uid)).keyMaterial;
    await s.call('activate', { caller: a.caller, uniqueIdentifier: uid });
    await s.call('revoke', { caller: a.caller, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.CessationOfOperation });
    expect(await state(a, uid)).toBe(State.Deactivated);
    expect((await get(a, uid)).keyMaterial).toEqual(first);
    await s.call('revoke', { caller: a.caller, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise });
    expect(await state(a, uid)).toBe(State.Compromised);
    expect((await get(a, uid)).keyMaterial).toEqual(first);
  });

  it('fails for a destroyed key, which keeps its attributes', async () => {
    const uid = await create(a);
    await s.call('destroy', { caller: a.caller, uniqueIdentifier: uid });
    const destroyed = await failure(get(a, uid));
    expect(destroyed).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, reason: ResultReason.ObjectDestroyed, message: expect.stringContaining('destroyed') });
    expect(onWire(destroyed.reason, Operation.Get).v1).toBe(ResultReason.IllegalOperation);
    expect(await state(a, uid)).toBe(State.Destroyed);
  });

  it('refuses a key format it cannot give', async () => {
    const uid = await create(a);
    expect(await failure(get(a, uid, KeyFormatType.PKCS1))).toMatchObject({ reason: ResultReason.KeyFormatTypeNotSupported });
  });

  it('answers Item Not Found for an unknown identifier', async () => {
    expect(await failure(get(a, 'no-such-key'))).toMatchObject({ code: grpc.status.NOT_FOUND, reason: ResultReason.ItemNotFound });
  });
});

describe('Activate, Revoke and Destroy through the API', () => {
  it('follow the state machine and refuse what it does not permit', async () => {
    const uid = await create(a);
    // Refusals carry KMIP 2.1's reason; v1 is what a 1.x client reads (KMIP 1.4 §11.20-§11.22).
    const wrongState = { reason: ResultReason.WrongKeyLifecycleState };
    const revokeEarly = await failure(s.call('revoke', { caller: a.caller, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.Superseded }));
    expect(revokeEarly).toMatchObject(wrongState);
    expect(onWire(revokeEarly.reason, Operation.Revoke).v1).toBe(ResultReason.IllegalOperation);
    await s.call('activate', { caller: a.caller, uniqueIdentifier: uid });
    const activateAgain = await failure(s.call('activate', { caller: a.caller, uniqueIdentifier: uid }));
    expect(activateAgain).toMatchObject(wrongState);
    expect(onWire(activateAgain.reason, Operation.Activate).v1).toBe(ResultReason.PermissionDenied);
    const destroyActive = await failure(s.call('destroy', { caller: a.caller, uniqueIdentifier: uid }));
    expect(destroyActive).toMatchObject({ ...wrongState, message: expect.stringContaining('revoke it') });
    expect(onWire(destroyActive.reason, Operation.Destroy).v1).toBe(ResultReason.PermissionDenied);
    expect(await failure(s.call('revoke', { caller: a.caller, uniqueIdentifier: uid, revocationReasonCode: 0 }))).toMatchObject({ reason: ResultReason.InvalidField });
    await s.call('revoke', { caller: a.caller, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.KeyCompromise, revocationMessage: 'laptop stolen', compromiseOccurrenceDate: 1_700_000_000n });
    const r = Object.fromEntries((await attrs(a, uid)).map((x) => [x.name, x.value]));
    expect(r['State']).toEqual({ enumeration: State.Compromised });
    expect(r['Compromise Occurrence Date']).toEqual({ dateTime: 1_700_000_000n });
    expect(r['Revocation Reason']?.structure?.fields).toEqual([
      { tag: Tag.RevocationReasonCode, value: { enumeration: RevocationReasonCode.KeyCompromise } },
      { tag: Tag.RevocationMessage, value: { textString: 'laptop stolen' } },
    ]);
    await s.call('destroy', { caller: a.caller, uniqueIdentifier: uid });
    expect(await state(a, uid)).toBe(State.DestroyedCompromised);
    const destroyAgain = await failure(s.call('destroy', { caller: a.caller, uniqueIdentifier: uid }));
    expect(destroyAgain).toMatchObject({ reason: ResultReason.ObjectDestroyed });
    expect(onWire(destroyAgain.reason, Operation.Destroy).v1).toBe(ResultReason.PermissionDenied);
  });

  it('Destroy removes the wrapped key from the provider', async () => {
    const uid = await create(a);
    const name = `kmip-${uid}`;
    const names = async () => ((await s.keyProtect('GET', 'keys?limit=5000', a.instanceId)).body as { resources?: Array<{ name: string }> }).resources?.map((k) => k.name) ?? [];
    expect(await names()).toContain(name);
    await s.call('destroy', { caller: a.caller, uniqueIdentifier: uid });
    expect(await names()).not.toContain(name);
  });
});

describe('Check', () => {
  it('checks the usage mask against the object and its state', async () => {
    const uid = await create(a);
    await expect(s.call('check', { caller: a.caller, uniqueIdentifier: uid })).resolves.toEqual({ uniqueIdentifier: uid });
    expect(await failure(s.call('check', { caller: a.caller, uniqueIdentifier: uid, cryptographicUsageMask: 4 }))).toMatchObject({ reason: ResultReason.PermissionDenied });
    await s.call('activate', { caller: a.caller, uniqueIdentifier: uid });
    await expect(s.call('check', { caller: a.caller, uniqueIdentifier: uid, cryptographicUsageMask: 12 })).resolves.toEqual({ uniqueIdentifier: uid });
    expect(await failure(s.call('check', { caller: a.caller, uniqueIdentifier: uid, cryptographicUsageMask: 1 }))).toMatchObject({ reason: ResultReason.PermissionDenied });
    await s.call('revoke', { caller: a.caller, uniqueIdentifier: uid, revocationReasonCode: RevocationReasonCode.Superseded });
    await expect(s.call('check', { caller: a.caller, uniqueIdentifier: uid, cryptographicUsageMask: 8 })).resolves.toEqual({ uniqueIdentifier: uid });
    expect(await failure(s.call('check', { caller: a.caller, uniqueIdentifier: uid, cryptographicUsageMask: 4 }))).toMatchObject({ reason: ResultReason.PermissionDenied });
  });
});

describe('attributes through the API', () => {
  it('modifies and deletes the instance named by its value (KMIP 2.x Current Attribute), whatever its index has become', async () => {
    const uid = await create(a);
    const add = (v: string) => s.call<lifecycleV1.AddAttributeResponse>('addAttribute', { caller: a.caller, uniqueIdentifier: uid, attribute: attr('Object Group', { textString: v }) });
    await add('first');
    await add('second');
    // Another client deletes instance 0 and adds one: "second" keeps index 1, "third" gets index 2.
    await s.call('deleteAttribute', { caller: a.caller, uniqueIdentifier: uid, attributeName: 'Object Group', attributeIndex: 0 });
    expect((await add('third')).attribute?.index).toBe(2);
    // Index 0 would be wrong now; the value finds the right instance in the same update.
    const mod = await s.call<lifecycleV1.ModifyAttributeResponse>('modifyAttribute', {
      caller: a.caller, uniqueIdentifier: uid, attribute: attr('Object Group', { textString: 'second, renamed' }, 0), currentValue: { textString: 'second' },
    });
    expect(mod.attribute).toEqual({ name: 'Object Group', index: 1, value: { textString: 'second, renamed' } });
    const del = await s.call<lifecycleV1.DeleteAttributeResponse>('deleteAttribute', {
      caller: a.caller, uniqueIdentifier: uid, attributeName: 'Object Group', attributeIndex: 0, currentValue: { textString: 'third' },
    });
    expect(del.attribute).toEqual({ name: 'Object Group', index: 2, value: { textString: 'third' } });
    expect(await attrs(a, uid, ['Object Group'])).toEqual([{ name: 'Object Group', index: 1, value: { textString: 'second, renamed' } }]);
    for (const call of [
      s.call('modifyAttribute', { caller: a.caller, uniqueIdentifier: uid, attribute: attr('Object Group', { textString: 'x' }), currentValue: { textString: 'second' } }),
      s.call('deleteAttribute', { caller: a.caller, uniqueIdentifier: uid, attributeName: 'Object Group', currentValue: { textString: 'first' } }),
    ]) {
      expect(await failure(call)).toMatchObject({ reason: ResultReason.AttributeNotFound, message: expect.stringContaining('Current Attribute') });
    }
  });

  it('adds, modifies and deletes instances by index, and lists names', async () => {
    const uid = await create(a);
    const add = (name: string, v: lifecycleV1.AttributeValue) => s.call<lifecycleV1.AddAttributeResponse>('addAttribute', { caller: a.caller, uniqueIdentifier: uid, attribute: attr(name, v) });
    expect((await add('Object Group', { textString: 'g1' })).attribute?.index).toBe(0);
    expect((await add('Object Group', { textString: 'g2' })).attribute?.index).toBe(1);
    const bytes = { byteString: Buffer.from([1, 2, 3]) };
    expect((await add('x-blob', bytes)).attribute).toEqual({ name: 'x-blob', index: 0, value: bytes });
    const mod = await s.call<lifecycleV1.ModifyAttributeResponse>('modifyAttribute', { caller: a.caller, uniqueIdentifier: uid, attribute: attr('Object Group', { textString: 'G2' }, 1) });
    expect(mod.attribute).toEqual({ name: 'Object Group', index: 1, value: { textString: 'G2' } });
    const del = await s.call<lifecycleV1.DeleteAttributeResponse>('deleteAttribute', { caller: a.caller, uniqueIdentifier: uid, attributeName: 'Object Group', attributeIndex: 0 });
    expect(del.attribute).toEqual({ name: 'Object Group', index: 0, value: { textString: 'g1' } });
    expect(await attrs(a, uid, ['Object Group'])).toEqual([{ name: 'Object Group', index: 1, value: { textString: 'G2' } }]);
    const list = await s.call<lifecycleV1.GetAttributeListResponse>('getAttributeList', { caller: a.caller, uniqueIdentifier: uid });
    expect(list.attributeNames).toEqual(expect.arrayContaining(['Unique Identifier', 'State', 'Object Group', 'x-blob', 'Cryptographic Algorithm']));
    expect(list.attributeNames).not.toContain('Activation Date');
    expect(await failure(s.call('getAttributes', { caller: a.caller, uniqueIdentifier: uid, attributeNames: ['State', 'State'] }))).toMatchObject({ reason: ResultReason.InvalidMessage });
    const readOnly = await failure(add('State', { enumeration: 2 }));
    expect(readOnly).toMatchObject({ reason: ResultReason.AttributeReadOnly });
    expect(onWire(readOnly.reason, Operation.AddAttribute).v1).toBe(ResultReason.PermissionDenied);
    expect(await failure(s.call('modifyAttribute', { caller: a.caller, uniqueIdentifier: uid, attribute: attr('x-none', { textString: 'v' }) }))).toMatchObject({ reason: ResultReason.InvalidField });
  });

  it('renames with Modify Attribute only to a Name no other object has', async () => {
    const one = await create(a, [nameAttr('rename-1')]);
    await create(a, [nameAttr('rename-2')]);
    const taken = await failure(s.call('modifyAttribute', { caller: a.caller, uniqueIdentifier: one, attribute: nameAttr('rename-2') }));
    expect(taken).toMatchObject({ reason: ResultReason.NonUniqueNameAttribute });
    expect(onWire(taken.reason, Operation.ModifyAttribute).v1).toBe(ResultReason.IllegalOperation);
    await s.call('modifyAttribute', { caller: a.caller, uniqueIdentifier: one, attribute: nameAttr('rename-3') });
    const found = await s.call<lifecycleV1.LocateResponse>('locate', { caller: a.caller, attributes: [attr('Name', { textString: 'rename-1' })] });
    expect(found.uniqueIdentifiers).toEqual([]);
    const again = await s.call<lifecycleV1.LocateResponse>('locate', { caller: a.caller, attributes: [nameAttr('rename-3')] });
    expect(again.uniqueIdentifiers).toEqual([one]);
  });
});

describe('Locate', () => {
  let t: TenantHandle;
  const uids: string[] = [];
  beforeAll(async () => {
    t = await s.addTenant('locate');
    for (let i = 0; i < 6; i++) {
      const extra = [nameAttr(`loc-${i}`), attr('Object Group', { textString: i % 2 ? 'odd' : 'even' })];
      if (i < 3) extra.push(attr('x-Component', { textString: 'Virtual Machine' }));
      uids.push(await create(t, extra));
    }
    await s.call('activate', { caller: t.caller, uniqueIdentifier: uids[0] });
    await s.call('register', { caller: t.caller, objectType: ObjectType.SecretData, keyMaterial: Buffer.from('s'), secretDataType: 1, attributes: [] });
  });
  const locate = (attributes: lifecycleV1.Attribute[], maximumItems = 0, offsetItems = 0) =>
    s.call<lifecycleV1.LocateResponse>('locate', { caller: t.caller, attributes, maximumItems, offsetItems });

  it('finds every object in creation order without criteria', async () => {
    const r = await locate([]);
    expect(r.locatedItems).toBe(7);
    expect(r.uniqueIdentifiers.slice(0, 6)).toEqual(uids);
  });
  it('filters by Name, Object Type, State, Cryptographic Algorithm, Object Group and custom attributes', async () => {
    expect((await locate([attr('Name', { textString: 'loc-4' })])).uniqueIdentifiers).toEqual([uids[4]]);
    expect((await locate([attr('Object Type', { enumeration: ObjectType.SymmetricKey })])).locatedItems).toBe(6);
    expect((await locate([attr('Object Type', { enumeration: ObjectType.SecretData })])).locatedItems).toBe(1);
    expect((await locate([attr('State', { enumeration: State.Active })])).uniqueIdentifiers).toEqual([uids[0]]);
    expect((await locate([attr('Cryptographic Algorithm', { enumeration: 3 })])).locatedItems).toBe(6);
    expect((await locate([attr('Object Group', { textString: 'odd' })])).uniqueIdentifiers).toEqual([uids[1], uids[3], uids[5]]);
    expect((await locate([attr('x-Component', { textString: 'Virtual Machine' })])).uniqueIdentifiers).toEqual(uids.slice(0, 3));
    expect((await locate([attr('x-Component', { textString: 'Virtual Machine' }), attr('Object Group', { textString: 'even' })])).uniqueIdentifiers).toEqual([uids[0], uids[2]]);
    expect((await locate([attr('Cryptographic Usage Mask', { integer: 4 })])).locatedItems).toBe(6);
    expect((await locate([attr('State', { enumeration: State.Active }), attr('Object Group', { textString: 'odd' })])).locatedItems).toBe(0);
  });
  it('applies Maximum Items and Offset Items after counting every match', async () => {
    const r = await locate([attr('Object Type', { enumeration: ObjectType.SymmetricKey })], 2, 3);
    expect(r).toEqual({ locatedItems: 6, uniqueIdentifiers: uids.slice(3, 5) });
    expect((await locate([], 1, 100)).uniqueIdentifiers).toEqual([]);
  });
  it('matches a date range given as two instances', async () => {
    const now = BigInt(Math.floor(Date.now() / 1000));
    expect((await locate([attr('Initial Date', { dateTime: now - 3600n }), attr('Initial Date', { dateTime: now + 60n })])).locatedItems).toBe(7);
    expect((await locate([attr('Initial Date', { dateTime: 1n }), attr('Initial Date', { dateTime: 2n })])).locatedItems).toBe(0);
  });
  it('refuses attributes it does not know with Invalid Field', async () => {
    expect(await failure(locate([attr('Colour', { textString: 'red' })]))).toMatchObject({ reason: ResultReason.InvalidField });
  });
});

describe('tenant isolation', () => {
  it("answers another tenant's identifier exactly like a missing one", async () => {
    const uid = await create(a);
    const missing = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
    const ops: Array<[keyof lifecycleV1.KeyLifecycleClient, (u: string) => object]> = [
      ['get', (u) => ({ uniqueIdentifier: u })],
      ['getAttributes', (u) => ({ uniqueIdentifier: u, attributeNames: [] })],
      ['getAttributeList', (u) => ({ uniqueIdentifier: u })],
      ['activate', (u) => ({ uniqueIdentifier: u })],
      ['revoke', (u) => ({ uniqueIdentifier: u, revocationReasonCode: 2 })],
      ['destroy', (u) => ({ uniqueIdentifier: u })],
      ['check', (u) => ({ uniqueIdentifier: u })],
      ['addAttribute', (u) => ({ uniqueIdentifier: u, attribute: attr('x-a', { textString: 'v' }) })],
      ['modifyAttribute', (u) => ({ uniqueIdentifier: u, attribute: attr('x-a', { textString: 'v' }) })],
      ['deleteAttribute', (u) => ({ uniqueIdentifier: u, attributeName: 'x-a' })],
    ];
    for (const [op, req] of ops) {
      const other = await failure(s.call(op, { caller: b.caller, ...req(uid) }));
      const none = await failure(s.call(op, { caller: b.caller, ...req(missing) }));
      expect([op, other.code, other.reason, other.message.replace(uid, 'X')]).toEqual([op, none.code, none.reason, none.message.replace(missing, 'X')]);
      expect(other.reason).toBe(ResultReason.ItemNotFound);
    }
    const found = await s.call<lifecycleV1.LocateResponse>('locate', { caller: b.caller, attributes: [] });
    expect(found.uniqueIdentifiers).not.toContain(uid);
    expect(await state(a, uid)).toBe(State.PreActive);
  });

  it('refuses an unregistered or malformed caller', async () => {
    expect(await failure(s.call('locate', { caller: { certFingerprint: 'ab'.repeat(32) }, attributes: [] }))).toMatchObject({ code: grpc.status.PERMISSION_DENIED, reason: ResultReason.PermissionDenied });
    expect(await failure(s.call('locate', { caller: { certFingerprint: 'nope' }, attributes: [] }))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await failure(s.call('locate', { attributes: [] }))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await s.call('identify', { caller: a.caller })).toEqual({ tenantId: 'tenant-a' });
  });
});

describe('concurrent callers on two replicas', () => {
  it('keep every Add Attribute and let exactly one Activate through', async () => {
    const replica = await s.startReplica();
    const other = new lifecycleV1.KeyLifecycleClient(`127.0.0.1:${replica.port}`, channelCredentials(s.gatewayTls));
    try {
      const uid = await create(a);
      const n = 40;
      await Promise.all(Array.from({ length: n }, (_, i) => {
        const req = { caller: a.caller, uniqueIdentifier: uid, attribute: attr('x-Identifier', { textString: `vm-${i}` }) };
        return i % 2 ? s.call('addAttribute', req) : rpc(other, 'addAttribute', req);
      }));
      const tags = await attrs(a, uid, ['x-Identifier']);
      expect(tags).toHaveLength(n);
      expect(new Set(tags.map((x) => x.index)).size).toBe(n);
      const acts = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? s.call('activate', { caller: a.caller, uniqueIdentifier: uid }) : rpc(other, 'activate', { caller: a.caller, uniqueIdentifier: uid }))));
      expect(acts.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      expect(await state(a, uid)).toBe(State.Active);
    } finally {
      other.close();
    }
  });
});

describe('audit', () => {
  it('records every operation in the Redis stream', async () => {
    const uid = await create(a);
    await failure(get(b, uid));
    const r = new Redis(s.redis.url);
    try {
      const entries = await r.xrevrange('kw:audit', '+', '-', 'COUNT', 50);
      const rows = entries.map(([, f]) => Object.fromEntries(f.reduce<string[][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, f[i + 1]]]), [])));
      expect(rows).toContainEqual(expect.objectContaining({ op: 'Create', uid, tenant: 'tenant-a', cert: a.caller.certFingerprint, result: 'ok' }));
      expect(rows).toContainEqual(expect.objectContaining({ op: 'Get', uid, tenant: 'tenant-b', result: 'NOT_FOUND', reason: String(ResultReason.ItemNotFound) }));
    } finally {
      r.disconnect();
    }
  });
});
