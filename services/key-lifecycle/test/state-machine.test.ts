// KMIP 1.4 §3.22: every permitted transition, and every other one refused
// with the KMIP 2.1 reason, which a 1.x client reads as the KMIP 1.4 §11
// reason (Activate §11.20, Revoke §11.21, Destroy §11.22).
import { ObjectType, Operation, ResultReason, RevocationReasonCode as R, State } from '@keywarden/kmip';
import type { KeyRecord } from '../src/model/record';
import { onWire, reasonOf } from './kmip-reason';
import { activate, applyDueTransitions, destroy, revoke } from '../src/model/state';

const NOW = 1_800_000_000;
const ALL = [State.PreActive, State.Active, State.Deactivated, State.Compromised, State.Destroyed, State.DestroyedCompromised];

function rec(state: number, extra: Partial<KeyRecord> = {}): KeyRecord {
  return {
    uid: 'u', tenant: 't', createdBy: 'f', createdMs: 0, objectType: ObjectType.SymmetricKey, state, usageMask: 12,
    keyFormatType: 1, initialDate: NOW - 100, lastChangeDate: NOW - 100, attrs: {}, crkVersion: '1', ...extra,
  };
}


describe('Activate (transition 4)', () => {
  it('moves Pre-Active to Active and sets the Activation Date to now', () => {
    const r = rec(State.PreActive);
    activate(r, NOW);
    expect(r.state).toBe(State.Active);
    expect(r.activationDate).toBe(NOW);
  });
  it.each(ALL.filter((s) => s !== State.PreActive))('refuses state %i with Wrong Key Lifecycle State (1.x: Permission Denied)', (s) => {
    expect(onWire(reasonOf(() => activate(rec(s), NOW)), Operation.Activate))
      .toEqual({ v1: ResultReason.PermissionDenied, v2: ResultReason.WrongKeyLifecycleState });
  });
});

describe('Revoke', () => {
  const compromising = [R.KeyCompromise, R.CACompromise];
  it.each([
    [State.PreActive, State.Compromised], // 3
    [State.Active, State.Compromised], // 5
    [State.Deactivated, State.Compromised], // 8
    [State.Destroyed, State.DestroyedCompromised], // 10
  ])('for compromise moves %i to %i and records the dates', (from, to) => {
    for (const code of compromising) {
      const r = rec(from);
      revoke(r, code, 'laptop stolen', NOW - 50, NOW);
      expect(r.state).toBe(to);
      expect(r.compromiseDate).toBe(NOW);
      expect(r.compromiseOccurrenceDate).toBe(NOW - 50);
      expect(r.revocationReason).toEqual({ code, message: 'laptop stolen' });
    }
  });
  it('records now as the Compromise Occurrence Date when the client gives none', () => {
    const r = rec(State.Active);
    revoke(r, R.KeyCompromise, undefined, undefined, NOW);
    expect(r.compromiseOccurrenceDate).toBe(NOW);
  });
  it.each([State.Compromised, State.DestroyedCompromised])('refuses compromise of an already compromised object (%i)', (s) => {
    expect(onWire(reasonOf(() => revoke(rec(s), R.KeyCompromise, undefined, undefined, NOW)), Operation.Revoke))
      .toEqual({ v1: ResultReason.IllegalOperation, v2: ResultReason.WrongKeyLifecycleState });
  });
  it('for any other reason moves Active to Deactivated (transition 6) and sets the Deactivation Date', () => {
    for (const code of [R.Unspecified, R.AffiliationChanged, R.Superseded, R.CessationOfOperation, R.PrivilegeWithdrawn]) {
      const r = rec(State.Active);
      revoke(r, code, undefined, undefined, NOW);
      expect(r.state).toBe(State.Deactivated);
      expect(r.deactivationDate).toBe(NOW);
      expect(r.revocationReason).toEqual({ code });
    }
  });
  it.each(ALL.filter((s) => s !== State.Active))('refuses a non-compromise revocation in state %i', (s) => {
    expect(onWire(reasonOf(() => revoke(rec(s), R.CessationOfOperation, undefined, undefined, NOW)), Operation.Revoke))
      .toEqual({ v1: ResultReason.IllegalOperation, v2: ResultReason.WrongKeyLifecycleState });
  });
  it('refuses an unknown reason code with Invalid Field', () => {
    expect(reasonOf(() => revoke(rec(State.Active), 99, undefined, undefined, NOW))).toBe(ResultReason.InvalidField);
  });
  it('accepts extension reason codes (8XXXXXXX)', () => {
    const r = rec(State.Active);
    revoke(r, 0x80000001, undefined, undefined, NOW);
    expect(r.state).toBe(State.Deactivated);
  });
});

describe('Destroy', () => {
  it.each([
    [State.PreActive, State.Destroyed], // 2
    [State.Deactivated, State.Destroyed], // 7
    [State.Compromised, State.DestroyedCompromised], // 9
  ])('moves %i to %i and sets the Destroy Date', (from, to) => {
    const r = rec(from);
    destroy(r, NOW);
    expect(r.state).toBe(to);
    expect(r.destroyDate).toBe(NOW);
  });
  it('refuses an Active object with Wrong Key Lifecycle State (1.x: Permission Denied)', () => {
    expect(onWire(reasonOf(() => destroy(rec(State.Active), NOW)), Operation.Destroy))
      .toEqual({ v1: ResultReason.PermissionDenied, v2: ResultReason.WrongKeyLifecycleState });
  });
  it.each([State.Destroyed, State.DestroyedCompromised])('refuses state %i with Object Destroyed (1.x: Permission Denied)', (s) => {
    expect(onWire(reasonOf(() => destroy(rec(s), NOW)), Operation.Destroy)).toEqual({ v1: ResultReason.PermissionDenied, v2: ResultReason.ObjectDestroyed });
  });
});

describe('date-driven transitions', () => {
  it('activates a Pre-Active object when its Activation Date is reached (4)', () => {
    const r = rec(State.PreActive, { activationDate: NOW + 10 });
    expect(applyDueTransitions(r, NOW)).toBe(false);
    expect(applyDueTransitions(r, NOW + 10)).toBe(true);
    expect(r.state).toBe(State.Active);
  });
  it('deactivates an Active object when its Deactivation Date is reached (6)', () => {
    const r = rec(State.PreActive, { activationDate: NOW - 20, deactivationDate: NOW - 10 });
    applyDueTransitions(r, NOW);
    expect(r.state).toBe(State.Deactivated);
  });
  it('leaves a Pre-Active object without an Activation Date alone even past its Deactivation Date', () => {
    const r = rec(State.PreActive, { deactivationDate: NOW - 10 });
    expect(applyDueTransitions(r, NOW)).toBe(false);
    expect(r.state).toBe(State.PreActive);
  });
});
