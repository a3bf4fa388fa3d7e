// The operations the gateway serves, one typed unit each (context.ts). The
// Dispatcher's tables all derive from this list.
import { OPERATION_CODECS } from '@keywarden/kmip';
import { activate } from './activate';
import { addAttribute } from './add-attribute';
import { check } from './check';
import { GatewayOperation } from './context';
import { create } from './create';
import { createKeyPair } from './create-key-pair';
import { decrypt } from './decrypt';
import { deriveKey } from './derive-key';
import { encrypt } from './encrypt';
import { deleteAttribute } from './delete-attribute';
import { destroy } from './destroy';
import { discoverVersions } from './discover-versions';
import { get } from './get';
import { getAttributeList } from './get-attribute-list';
import { getAttributes } from './get-attributes';
import { locate } from './locate';
import { mac } from './mac';
import { macVerify } from './mac-verify';
import { modifyAttribute } from './modify-attribute';
import { queryOperation } from './query';
import { register } from './register';
import { revoke } from './revoke';
import { rngRetrieve } from './rng-retrieve';
import { sign } from './sign';
import { signatureVerify } from './signature-verify';

export * from './context';

/**
 * The table of `operations` by KMIP Operation value. Each must be decoded by
 * the codec its definition names, which is what makes its handler's request
 * type hold; a second definition of one operation is a programming error.
 */
export function operationTable(operations: GatewayOperation[]): ReadonlyMap<number, GatewayOperation> {
  const table = new Map<number, GatewayOperation>();
  for (const op of operations) {
    if (table.has(op.operation)) throw new Error(`operation ${op.operation} is defined twice`);
    if (OPERATION_CODECS.get(op.operation) !== op.codec) throw new Error(`operation ${op.operation} is not decoded with the codec it is defined with`);
    table.set(op.operation, op);
  }
  return table;
}

const served = [
  discoverVersions, create, register, get, locate, activate, revoke, destroy, check,
  getAttributes, getAttributeList, addAttribute, modifyAttribute, deleteAttribute,
  createKeyPair, deriveKey, encrypt, decrypt, sign, signatureVerify, mac, macVerify, rngRetrieve,
];

/** Every operation the gateway serves, Query included. */
export const OPERATIONS: ReadonlyMap<number, GatewayOperation> = operationTable([
  ...served,
  queryOperation(() => [...OPERATIONS.keys()].sort((a, b) => a - b)),
]);
