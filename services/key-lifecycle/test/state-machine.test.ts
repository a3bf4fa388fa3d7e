// KMIP 1.2 section 3.22: every permitted transition, and every other one refused
// with the section 11 reason (Activate 11.20, Revoke 11.21, Destroy 11.22).
import { ObjectType, ResultReason, RevocationReasonCode as R, State } from '@keywarden/kmip';
import type { KeyRecord } from '../src/model/record';
import { reasonOf } from './kmip-reason';
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
  it.each(ALL.filter((s) => s !== State.PreActive))('refuses state %i with Permission Denied', (s) => {
    expect(reasonOf(() => activate(rec(s), NOW))).toBe(ResultReason.PermissionDenied);
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
    expect(reasonOf(() => revoke(rec(s), R.KeyCompromise, undefined, undefined, NOW))).toBe(ResultReason.IllegalOperation);
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
    expect(reasonOf(() => revoke(rec(s), R.CessationOfOperation, undefined, undefined, NOW))).toBe(ResultReason.IllegalOperation);
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
  it.each([State.Active, State.Destroyed, State.DestroyedCompromised])('refuses state %i with Permission Denied', (s) => {
    expect(reasonOf(() => destroy(rec(s), NOW))).toBe(ResultReason.PermissionDenied);
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
