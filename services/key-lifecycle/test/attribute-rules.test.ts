// KMIP 1.4 §3 attribute rules and the Add/Modify/Delete errors of KMIP 1.4 §11.15-§11.17
// (raised as KMIP 2.1 names them; v1() is what a 1.x client reads).
import {
  addAttribute, allAttributes, applyTemplateAttribute, deleteAttribute, MAX_INSTANCES, modifyAttribute, nameValues, presentNames,
} from '../src/model/attributes';
import { ObjectType, Operation, ResultReason, State, Tag } from '@keywarden/kmip';
import type { KeyRecord } from '../src/model/record';
import { onWire, reasonOf } from './kmip-reason';
import { date, enumeration, integer, StoredValue, text } from '../src/model/values';

const NOW = 1_800_000_000;

/** The reason `fn` raises as a KMIP 1.4 client reads it from `operation` (keywarden raises KMIP 2.1's; errors.ts). */
const v1 = (operation: number, fn: () => unknown) => onWire(reasonOf(fn), operation).v1;

function rec(state: number = State.PreActive): KeyRecord {
  return {
    uid: 'u1', tenant: 't', createdBy: 'f', createdMs: 0, objectType: ObjectType.SymmetricKey, state, algorithm: 3, length: 256,
    usageMask: 12, keyFormatType: 1, initialDate: NOW, lastChangeDate: NOW, attrs: {}, crkVersion: '1',
  };
}


const name = (v: string): StoredValue => ({ t: 'struct', v: [{ tag: Tag.NameValue, value: text(v) }, { tag: Tag.NameType, value: enumeration(1) }] });

describe('custom attributes', () => {
  it('are stored and returned as given, whatever their type, each instance with its own index', () => {
    const r = rec();
    const values: StoredValue[] = [
      text('7.0.3 build-19480866'), integer(-5), { t: 'long', v: '9007199254740993' }, { t: 'bool', v: true },
      { t: 'bytes', v: Buffer.from([0, 1, 2]).toString('base64') }, date(NOW), { t: 'interval', v: 60 }, enumeration(7),
      { t: 'bigint', v: Buffer.from([0x01, 0x00]).toString('base64') }, { t: 'datex', v: '1800000000123456' },
      { t: 'struct', v: [{ tag: 0x540001, value: text('a') }, { tag: 0x540002, value: integer(2) }] },
    ];
    const added = values.map((v) => addAttribute(r, 'x-Any', 0, v, NOW));
    expect(added.map((a) => a.i)).toEqual(values.map((_, i) => i));
    expect(allAttributes(r).filter((a) => a.name === 'x-Any').map((a) => a.instance.v)).toEqual(values);
  });
  it('keep their indexes when other instances are deleted (2.1.1)', () => {
    const r = rec();
    for (const v of ['a', 'b', 'c']) addAttribute(r, 'x-tag', 0, text(v), NOW);
    deleteAttribute(r, 'x-tag', 1, NOW);
    expect(r.attrs['x-tag'].items.map((i) => i.i)).toEqual([0, 2]);
    expect(addAttribute(r, 'x-tag', 0, text('d'), NOW).i).toBe(3);
  });
  it('refuses y- attributes from a client (3.39)', () => {
    expect(reasonOf(() => addAttribute(rec(), 'y-server', 0, text('v'), NOW))).toBe(ResultReason.PermissionDenied);
  });
});

describe('Add Attribute (11.15)', () => {
  it('refuses read-only server attributes with Permission Denied', () => {
    for (const n of ['Unique Identifier', 'Object Type', 'State', 'Initial Date', 'Last Change Date', 'Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Usage Mask', 'Destroy Date', 'Revocation Reason']) {
      expect([n, v1(Operation.AddAttribute, () => addAttribute(rec(), n, 0, integer(1), NOW))]).toEqual([n, ResultReason.PermissionDenied]);
    }
    for (const n of ['Unique Identifier', 'State', 'Cryptographic Length']) {
      expect([n, reasonOf(() => addAttribute(rec(), n, 0, integer(1), NOW))]).toEqual([n, ResultReason.AttributeReadOnly]);
    }
  });
  it('refuses an attribute the server does not support with Permission Denied', () => {
    expect(reasonOf(() => addAttribute(rec(), 'Lease Time', 0, { t: 'interval', v: 5 }, NOW))).toBe(ResultReason.PermissionDenied);
    expect(reasonOf(() => addAttribute(rec(), 'Colour', 0, text('red'), NOW))).toBe(ResultReason.PermissionDenied);
  });
  it('refuses a second instance of a single-instance attribute with Attribute Single Valued (1.x: Illegal Operation)', () => {
    const r = rec();
    addAttribute(r, 'Contact Information', 0, text('ops@example.com'), NOW);
    expect(onWire(reasonOf(() => addAttribute(r, 'Contact Information', 0, text('x'), NOW)), Operation.AddAttribute))
      .toEqual({ v1: ResultReason.IllegalOperation, v2: ResultReason.AttributeSingleValued });
  });
  it('refuses an Attribute Index in the request with Invalid Field', () => {
    expect(reasonOf(() => addAttribute(rec(), 'Object Group', 3, text('g'), NOW))).toBe(ResultReason.InvalidField);
  });
  it('refuses a value of the wrong type with Invalid Field', () => {
    expect(reasonOf(() => addAttribute(rec(), 'Object Group', 0, integer(1), NOW))).toBe(ResultReason.InvalidField);
    expect(reasonOf(() => addAttribute(rec(), 'Link', 0, { t: 'struct', v: [{ tag: Tag.LinkType, value: enumeration(0x101) }] }, NOW))).toBe(ResultReason.InvalidField);
  });
  it('refuses more instances than the server limit with Server Limit Exceeded (1.x: Index Out of Bounds)', () => {
    const r = rec();
    for (let i = 0; i < MAX_INSTANCES; i++) addAttribute(r, 'x-many', 0, integer(i), NOW);
    expect(onWire(reasonOf(() => addAttribute(r, 'x-many', 0, integer(0), NOW)), Operation.AddAttribute))
      .toEqual({ v1: ResultReason.IndexOutOfBounds, v2: ResultReason.ServerLimitExceeded });
  });
  it('takes a bare Text String as a Name of type Uninterpreted Text String', () => {
    const r = rec();
    expect(addAttribute(r, 'Name', 0, text('disk-1'), NOW).v).toEqual(name('disk-1'));
    expect(nameValues(r)).toEqual(['disk-1']);
  });
  it('sets an Activation Date on a Pre-Active object, activating it when the date has passed', () => {
    const r = rec();
    addAttribute(r, 'Activation Date', 0, date(NOW - 1), NOW);
    expect(r.state).toBe(State.Active);
    expect(reasonOf(() => addAttribute(rec(State.Active), 'Activation Date', 0, date(NOW), NOW))).toBe(ResultReason.PermissionDenied);
  });
  it('refuses Process Start Date on an Active key whose date was reached', () => {
    const r = rec(State.Active);
    addAttribute(r, 'Process Start Date', 0, date(NOW - 5), NOW);
    expect(reasonOf(() => modifyAttribute(r, 'Process Start Date', 0, date(NOW + 5), NOW))).toBe(ResultReason.PermissionDenied);
  });
});

describe('Modify Attribute (11.16)', () => {
  it('changes only the instance named by its index (0 when absent)', () => {
    const r = rec();
    addAttribute(r, 'Object Group', 0, text('a'), NOW);
    addAttribute(r, 'Object Group', 0, text('b'), NOW);
    expect(modifyAttribute(r, 'Object Group', 1, text('B'), NOW)).toEqual({ i: 1, v: text('B') });
    expect(modifyAttribute(r, 'Object Group', 0, text('A'), NOW)).toEqual({ i: 0, v: text('A') });
    expect(r.attrs['Object Group'].items.map((i) => i.v)).toEqual([text('A'), text('B')]);
  });
  it('refuses an attribute that does not exist with Invalid Field', () => {
    expect(reasonOf(() => modifyAttribute(rec(), 'x-none', 0, text('v'), NOW))).toBe(ResultReason.InvalidField);
  });
  it('refuses an index with no instance with Attribute Instance Not Found (1.x: Item Not Found)', () => {
    const r = rec();
    addAttribute(r, 'x-a', 0, text('v'), NOW);
    expect(onWire(reasonOf(() => modifyAttribute(r, 'x-a', 4, text('w'), NOW)), Operation.ModifyAttribute))
      .toEqual({ v1: ResultReason.ItemNotFound, v2: ResultReason.AttributeInstanceNotFound });
  });
  it('refuses read-only attributes with Attribute Read Only (1.x: Permission Denied)', () => {
    expect(onWire(reasonOf(() => modifyAttribute(rec(), 'State', 0, enumeration(2), NOW)), Operation.ModifyAttribute))
      .toEqual({ v1: ResultReason.PermissionDenied, v2: ResultReason.AttributeReadOnly });
    expect(onWire(reasonOf(() => modifyAttribute(rec(), 'Cryptographic Length', 0, integer(128), NOW)), Operation.ModifyAttribute))
      .toEqual({ v1: ResultReason.PermissionDenied, v2: ResultReason.AttributeReadOnly });
  });
  it('moves a Pre-Active object to Active when its Activation Date is set to the past (transition 4)', () => {
    const r = rec();
    addAttribute(r, 'Activation Date', 0, date(NOW + 1000), NOW);
    expect(r.state).toBe(State.PreActive);
    modifyAttribute(r, 'Activation Date', 0, date(NOW), NOW);
    expect(r.state).toBe(State.Active);
    expect(reasonOf(() => modifyAttribute(r, 'Activation Date', 0, date(NOW + 5), NOW))).toBe(ResultReason.PermissionDenied);
  });
  it('moves an Active object to Deactivated when its Deactivation Date is set to the past (transition 6)', () => {
    const r = rec(State.Active);
    addAttribute(r, 'Deactivation Date', 0, date(NOW + 1000), NOW);
    modifyAttribute(r, 'Deactivation Date', 0, date(NOW - 1), NOW);
    expect(r.state).toBe(State.Deactivated);
  });
});

describe('Delete Attribute (11.17)', () => {
  it('refuses required and read-only attributes with Permission Denied', () => {
    for (const n of ['Unique Identifier', 'State', 'Cryptographic Algorithm', 'Cryptographic Usage Mask', 'Initial Date']) {
      expect([n, v1(Operation.DeleteAttribute, () => deleteAttribute(rec(), n, 0, NOW))]).toEqual([n, ResultReason.PermissionDenied]);
    }
    const r = rec();
    addAttribute(r, 'Activation Date', 0, date(NOW + 100), NOW);
    expect(v1(Operation.DeleteAttribute, () => deleteAttribute(r, 'Activation Date', 0, NOW))).toBe(ResultReason.PermissionDenied);
  });
  it('refuses a missing attribute or index with Attribute (Instance) Not Found (1.x: Item Not Found)', () => {
    const r = rec();
    expect(onWire(reasonOf(() => deleteAttribute(r, 'x-a', 0, NOW)), Operation.DeleteAttribute))
      .toEqual({ v1: ResultReason.ItemNotFound, v2: ResultReason.AttributeNotFound });
    addAttribute(r, 'x-a', 0, text('v'), NOW);
    expect(onWire(reasonOf(() => deleteAttribute(r, 'x-a', 1, NOW)), Operation.DeleteAttribute))
      .toEqual({ v1: ResultReason.ItemNotFound, v2: ResultReason.AttributeInstanceNotFound });
    expect(deleteAttribute(r, 'x-a', 0, NOW)).toEqual({ i: 0, v: text('v') });
    expect(presentNames(r)).not.toContain('x-a');
  });
});

describe('Create templates (11.2)', () => {
  it('refuses server-set, unknown and repeated single-instance attributes with Invalid Field', () => {
    const seen = new Set<string>();
    const r = rec();
    expect(reasonOf(() => applyTemplateAttribute(r, 'State', enumeration(2), seen, NOW))).toBe(ResultReason.InvalidField);
    expect(reasonOf(() => applyTemplateAttribute(r, 'Bogus', text('x'), seen, NOW))).toBe(ResultReason.InvalidField);
    applyTemplateAttribute(r, 'Cryptographic Length', integer(128), seen, NOW);
    expect(reasonOf(() => applyTemplateAttribute(r, 'Cryptographic Length', integer(256), seen, NOW))).toBe(ResultReason.InvalidField);
  });
});
