// One Result Reason vocabulary, mapped down per protocol version at the edge.
//
// keywarden raises the reason the newest KMIP version defines for a case
// (KMIP 2.1 §11.46: Non-Unique Name Attribute, Wrong Key Lifecycle State,
// Object Destroyed, …). A response carries only values its version defines
// (an encoder refuses others), so each version has one table saying what a
// reason it lacks becomes there: the KMIP 1.x error tables (KMIP 1.4 §11)
// name these cases with broader reasons, some of which differ by operation
// (a lifecycle state refusal is Permission Denied for Activate and Destroy,
// Illegal Operation for Revoke). The mapping depends on the reason, the
// operation and the version only, never on the payload.
import { KmipVersion, Operation, ResultReason, enumValueDefinedIn } from './generated';

/** A reason's counterpart: one value, or one per operation with a value for the others. */
type Counterpart = number | { readonly byOperation: ReadonlyMap<number, number>; readonly otherwise: number };

type Table = ReadonlyMap<number, Counterpart>;

const R = ResultReason;
const O = Operation;

function byOperation(entries: Array<[number[], number]>, otherwise: number): Counterpart {
  return { byOperation: new Map(entries.flatMap(([ops, r]) => ops.map((op): [number, number] => [op, r]))), otherwise };
}

/**
 * KMIP 1.0 to 1.4: the 2.x reasons keywarden raises, as the 1.x error tables
 * of each operation name the case (KMIP 1.4 §11.2 to §11.22).
 */
const V1: Table = new Map<number, Counterpart>([
  // A Name another object of the tenant has (Create, Register, Add and Modify Attribute).
  [R.NonUniqueNameAttribute, R.IllegalOperation],
  // An object whose key material was destroyed: Get has only its attributes (§11.12); Destroy and Check refuse (§11.22).
  [R.ObjectDestroyed, byOperation([[[O.Get], R.IllegalOperation]], R.PermissionDenied)],
  // Activate of a non-Pre-Active object, Destroy of an Active one (§11.20, §11.22); a Revoke transition (§11.21).
  [R.WrongKeyLifecycleState, byOperation([[[O.Revoke], R.IllegalOperation]], R.PermissionDenied)],
  [R.IllegalObjectType, R.IllegalOperation],
  // Add Attribute of a single-instance attribute the object has (§11.15).
  [R.AttributeSingleValued, R.IllegalOperation],
  // Add, Modify or Delete of a read-only attribute (§11.15 to §11.17).
  [R.AttributeReadOnly, R.PermissionDenied],
  [R.AttributeNotFound, R.ItemNotFound],
  [R.AttributeInstanceNotFound, R.ItemNotFound],
  // A limit of the server's (a tenant's quota, unwraps waiting): 1.x has no name for it. (Too many
  // instances of an attribute is raised as Index Out of Bounds, §11.15, which 1.x defines.)
  [R.ServerLimitExceeded, R.GeneralFailure],
  [R.WrappingObjectDestroyed, R.CryptographicFailure],
  [R.WrappingObjectNotFound, R.CryptographicFailure],
  // Cryptographic operations (new in 1.2, §11.27 to §11.33; Create Key Pair, Derive Key, Get with wrapping).
  [R.IncompatibleCryptographicUsageMask, R.PermissionDenied],
  [R.BadCryptographicParameters, R.InvalidField],
  [R.UnsupportedCryptographicParameters, R.InvalidField],
  [R.MissingInitializationVector, R.MissingData],
]);

/**
 * KMIP 2.0 and 2.1 dropped Illegal Operation and Index Out of Bounds.
 * keywarden raises Index Out of Bounds for one case only, too many instances
 * of an attribute (the 1.x name is the precise one; 2.x calls it Server
 * Limit Exceeded); both still arrive from a gRPC status that named no reason
 * (FAILED_PRECONDITION, OUT_OF_RANGE) or from a key-lifecycle older than
 * this gateway, and become the 2.x reason of the same case.
 */
const V2: Table = new Map<number, Counterpart>([
  [R.IllegalOperation, byOperation([
    [[O.Get, O.Check], R.ObjectDestroyed],
    [[O.Activate, O.Revoke, O.Destroy], R.WrongKeyLifecycleState],
    [[O.AddAttribute], R.AttributeSingleValued],
  ], R.GeneralFailure)],
  [R.IndexOutOfBounds, R.ServerLimitExceeded],
]);

/** The table of each version keywarden speaks. */
const TABLES: Readonly<Record<KmipVersion, Table>> = {
  '1.0': V1, '1.1': V1, '1.2': V1, '1.3': V1, '1.4': V1, '2.0': V2, '2.1': V2,
};

/**
 * The Result Reason to send for `reason` in a response of version `v` to an
 * item of `operation`: the reason itself where `v` defines it, else its
 * counterpart in v's table, else General Failure (the message the client
 * reads is kept either way).
 */
export function reasonForVersion(reason: number, operation: number | undefined, v: KmipVersion): number {
  if (enumValueDefinedIn('ResultReason', reason, v)) return reason;
  const c = TABLES[v]?.get(reason);
  const mapped = c === undefined ? undefined : typeof c === 'number' ? c : (operation !== undefined ? c.byOperation.get(operation) : undefined) ?? c.otherwise;
  return mapped !== undefined && enumValueDefinedIn('ResultReason', mapped, v) ? mapped : ResultReason.GeneralFailure;
}
