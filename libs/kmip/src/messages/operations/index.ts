import { OperationCodec } from './codec';
import { addAttribute, deleteAttribute, getAttributeList, getAttributes, modifyAttribute } from './attribute-ops';
import { check } from './check';
import { create } from './create';
import { discoverVersions } from './discover-versions';
import { get } from './get';
import { locate } from './locate';
import { query } from './query';
import { register } from './register';
import { revoke } from './revoke';
import { activate, destroy } from './simple';

export * from './codec';
export * from './common';
export * from './attribute-ops';
export * from './check';
export * from './create';
export * from './discover-versions';
export * from './get';
export * from './locate';
export * from './query';
export * from './register';
export * from './revoke';
export * from './simple';

/** Every operation with a typed payload, by KMIP Operation value. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const OPERATION_CODECS: ReadonlyMap<number, OperationCodec<any, any>> = new Map(
  [discoverVersions, query, create, register, get, locate, activate, revoke, destroy, check,
    getAttributes, getAttributeList, addAttribute, modifyAttribute, deleteAttribute].map((c) => [c.operation, c]),
);
