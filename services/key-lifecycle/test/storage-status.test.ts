// Locate's Storage Status Mask (KMIP 2.0 §6.1.27, applied in every version):
// destroyed objects are found only when Destroyed Storage (4) is asked for,
// so "locate everything, then destroy it" never meets a destroyed object.
// Real Redis, crk-wrapping and the Key Protect emulator (stack.ts).
import { ObjectType, State, StorageStatusMask } from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import { aesTemplate, startStack, Stack, TenantHandle } from './stack';

jest.setTimeout(30_000);

let s: Stack;
let t: TenantHandle;
/** Five keys in creation order: 0 and 3 destroyed, 4 compromised then destroyed, 1 and 2 live. */
let uids: string[];

const attr = (name: string, value: lifecycleV1.AttributeValue): lifecycleV1.Attribute => ({ name, index: 0, value });

const locate = (req: Partial<lifecycleV1.LocateRequest>) =>
  s.call<lifecycleV1.LocateResponse>('locate', { caller: t.caller, ...req });

beforeAll(async () => {
  s = await startStack();
  t = await s.addTenant();
  uids = [];
  for (let i = 0; i < 5; i++) {
    uids.push((await s.call<lifecycleV1.CreateResponse>('create', { caller: t.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier);
  }
  await s.call('destroy', { caller: t.caller, uniqueIdentifier: uids[0] });
  await s.call('destroy', { caller: t.caller, uniqueIdentifier: uids[3] });
  await s.call('revoke', { caller: t.caller, uniqueIdentifier: uids[4], revocationReasonCode: 2 });
  await s.call('destroy', { caller: t.caller, uniqueIdentifier: uids[4] });
});

afterAll(async () => {
  await s?.close();
});

const live = () => [uids[1], uids[2]];
const destroyed = () => [uids[0], uids[3], uids[4]];

describe('Locate without criteria', () => {
  it('finds only objects that are not destroyed when no mask is given (On-line Storage)', async () => {
    expect(await locate({})).toEqual({ locatedItems: 2, uniqueIdentifiers: live() });
    expect(await locate({ storageStatusMask: StorageStatusMask.OnLineStorage })).toEqual({ locatedItems: 2, uniqueIdentifiers: live() });
  });

  it('finds destroyed objects (Destroyed and Destroyed Compromised) only with Destroyed Storage', async () => {
    expect(await locate({ storageStatusMask: StorageStatusMask.DestroyedStorage })).toEqual({ locatedItems: 3, uniqueIdentifiers: destroyed() });
  });

  it('finds both with both bits, in creation order', async () => {
    expect(await locate({ storageStatusMask: StorageStatusMask.OnLineStorage | StorageStatusMask.DestroyedStorage })).toEqual({ locatedItems: 5, uniqueIdentifiers: uids });
  });

  it('finds nothing in Archival Storage: nothing is archived', async () => {
    expect(await locate({ storageStatusMask: StorageStatusMask.ArchivalStorage })).toEqual({ locatedItems: 0, uniqueIdentifiers: [] });
  });

  it('applies Offset Items and Maximum Items to the admitted objects only', async () => {
    expect(await locate({ offsetItems: 1, maximumItems: 1 })).toEqual({ locatedItems: 2, uniqueIdentifiers: [uids[2]] });
    expect(await locate({ storageStatusMask: StorageStatusMask.DestroyedStorage, offsetItems: 1, maximumItems: 1 })).toEqual({ locatedItems: 3, uniqueIdentifiers: [uids[3]] });
  });
});

describe('Locate with criteria', () => {
  const symmetric = attr('Object Type', { enumeration: ObjectType.SymmetricKey });

  it('filters the matches by the mask as well', async () => {
    expect(await locate({ attributes: [symmetric] })).toEqual({ locatedItems: 2, uniqueIdentifiers: live() });
    expect(await locate({ attributes: [symmetric], storageStatusMask: StorageStatusMask.DestroyedStorage })).toEqual({ locatedItems: 3, uniqueIdentifiers: destroyed() });
  });

  it('does not find a Destroyed state without Destroyed Storage', async () => {
    const st = attr('State', { enumeration: State.Destroyed });
    expect(await locate({ attributes: [st] })).toEqual({ locatedItems: 0, uniqueIdentifiers: [] });
    expect(await locate({ attributes: [st], storageStatusMask: StorageStatusMask.DestroyedStorage })).toEqual({ locatedItems: 2, uniqueIdentifiers: [uids[0], uids[3]] });
  });
});

it('"locate everything, then destroy it" destroys every live object without one failure', async () => {
  const u = await s.addTenant();
  const made: string[] = [];
  for (let i = 0; i < 3; i++) {
    made.push((await s.call<lifecycleV1.CreateResponse>('create', { caller: u.caller, objectType: ObjectType.SymmetricKey, attributes: aesTemplate() })).uniqueIdentifier);
  }
  for (let round = 0; round < 2; round++) {
    const found = await s.call<lifecycleV1.LocateResponse>('locate', { caller: u.caller });
    for (const uid of found.uniqueIdentifiers) await s.call('destroy', { caller: u.caller, uniqueIdentifier: uid });
  }
  expect(await s.call('locate', { caller: u.caller })).toEqual({ locatedItems: 0, uniqueIdentifiers: [] });
  expect(await s.call('locate', { caller: u.caller, storageStatusMask: StorageStatusMask.DestroyedStorage })).toEqual({ locatedItems: 3, uniqueIdentifiers: made });
});
