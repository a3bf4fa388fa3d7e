// One Result Reason vocabulary (KMIP 2.1's names), mapped down per protocol
// version by one table each: deterministic in (reason, operation, version).
import { ENUM_INFO, KMIP_VERSIONS, Operation, ResultReason as R, enumValueDefinedIn, reasonForVersion } from '@keywarden/kmip';

const OPS = ENUM_INFO.get('Operation')?.values.map((v) => v.value) ?? [];
const REASONS = ENUM_INFO.get('ResultReason')?.values.map((v) => v.value) ?? [];

describe('reasonForVersion', () => {
  test('keeps a reason the version defines', () => {
    expect(reasonForVersion(R.IllegalOperation, Operation.Get, '1.1')).toBe(R.IllegalOperation);
    expect(reasonForVersion(R.ItemNotFound, Operation.Get, '2.0')).toBe(R.ItemNotFound);
    expect(reasonForVersion(R.ObjectDestroyed, Operation.Get, '2.1')).toBe(R.ObjectDestroyed);
  });

  test('gives a 1.x client the reason its error tables name, per operation where they differ (KMIP 1.4 §11)', () => {
    for (const v of ['1.0', '1.4'] as const) {
      expect(reasonForVersion(R.ObjectDestroyed, Operation.Get, v)).toBe(R.IllegalOperation);
      expect(reasonForVersion(R.ObjectDestroyed, Operation.Destroy, v)).toBe(R.PermissionDenied);
      expect(reasonForVersion(R.ObjectDestroyed, Operation.Check, v)).toBe(R.PermissionDenied);
      expect(reasonForVersion(R.WrongKeyLifecycleState, Operation.Activate, v)).toBe(R.PermissionDenied);
      expect(reasonForVersion(R.WrongKeyLifecycleState, Operation.Destroy, v)).toBe(R.PermissionDenied);
      expect(reasonForVersion(R.WrongKeyLifecycleState, Operation.Revoke, v)).toBe(R.IllegalOperation);
      for (const op of [Operation.Create, Operation.Register, Operation.AddAttribute, Operation.ModifyAttribute]) {
        expect([op, reasonForVersion(R.NonUniqueNameAttribute, op, v)]).toEqual([op, R.IllegalOperation]);
      }
      expect(reasonForVersion(R.AttributeSingleValued, Operation.AddAttribute, v)).toBe(R.IllegalOperation);
      expect(reasonForVersion(R.AttributeReadOnly, Operation.ModifyAttribute, v)).toBe(R.PermissionDenied);
      expect(reasonForVersion(R.AttributeNotFound, Operation.DeleteAttribute, v)).toBe(R.ItemNotFound);
      expect(reasonForVersion(R.AttributeInstanceNotFound, Operation.ModifyAttribute, v)).toBe(R.ItemNotFound);
      // A quota or another limit of the server's: 1.x has no name for it (too many instances is raised as Index Out of Bounds).
      for (const op of [Operation.Create, Operation.Register, Operation.AddAttribute, Operation.Get]) {
        expect([op, reasonForVersion(R.ServerLimitExceeded, op, v)]).toEqual([op, R.GeneralFailure]);
      }
      expect(reasonForVersion(R.IndexOutOfBounds, Operation.AddAttribute, v)).toBe(R.IndexOutOfBounds);
      expect(reasonForVersion(R.WrappingObjectDestroyed, Operation.Get, v)).toBe(R.CryptographicFailure);
    }
  });

  test('gives a 2.x client the counterpart of the two 1.x-only reasons (a status that named none)', () => {
    expect(reasonForVersion(R.IllegalOperation, Operation.Revoke, '2.0')).toBe(R.WrongKeyLifecycleState);
    expect(reasonForVersion(R.IllegalOperation, Operation.Get, '2.1')).toBe(R.ObjectDestroyed);
    expect(reasonForVersion(R.IllegalOperation, Operation.AddAttribute, '2.0')).toBe(R.AttributeSingleValued);
    expect(reasonForVersion(R.IndexOutOfBounds, Operation.AddAttribute, '2.0')).toBe(R.ServerLimitExceeded);
    expect(reasonForVersion(R.IllegalOperation, Operation.Locate, '2.0')).toBe(R.GeneralFailure);
  });

  test('a reason the version lacks and no table names becomes General Failure', () => {
    expect(reasonForVersion(R.ConstraintViolation, Operation.Create, '2.0')).toBe(R.GeneralFailure);
    expect(reasonForVersion(R.InvalidTicket, Operation.Create, '1.4')).toBe(R.GeneralFailure);
    expect(reasonForVersion(0x7777, undefined, '1.4')).toBe(R.GeneralFailure);
  });

  test('every reason, for every operation and version, becomes a value that version defines', () => {
    for (const v of KMIP_VERSIONS) {
      for (const reason of REASONS) {
        for (const op of [undefined, ...OPS]) {
          const out = reasonForVersion(reason, op, v);
          if (!enumValueDefinedIn('ResultReason', out, v)) throw new Error(`${reason} for ${op} in ${v} became ${out}`);
        }
      }
    }
  });
});
