import { OperationCodec } from './codec';
import { activate } from './activate';
import { addAttribute } from './add-attribute';
import { check } from './check';
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
import { query } from './query';
import { register } from './register';
import { revoke } from './revoke';
import { rngRetrieve } from './rng-retrieve';
import { sign } from './sign';
import { signatureVerify } from './signature-verify';

export * from './codec';
export * from './common';
export * from './activate';
export * from './add-attribute';
export * from './attribute-change';
export * from './check';
export * from './create';
export * from './create-key-pair';
export * from './crypto-common';
export * from './decrypt';
export * from './derive-key';
export * from './encrypt';
export * from './delete-attribute';
export * from './destroy';
export * from './discover-versions';
export * from './get';
export * from './get-attribute-list';
export * from './get-attributes';
export * from './locate';
export * from './mac';
export * from './mac-verify';
export * from './modify-attribute';
export * from './query';
export * from './register';
export * from './revoke';
export * from './rng-retrieve';
export * from './sign';
export * from './signature-verify';

/** Every operation with a typed payload, by KMIP Operation value. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const OPERATION_CODECS: ReadonlyMap<number, OperationCodec<any, any>> = new Map(
  [discoverVersions, query, create, register, get, locate, activate, revoke, destroy, check,
    getAttributes, getAttributeList, addAttribute, modifyAttribute, deleteAttribute,
    createKeyPair, deriveKey, encrypt, decrypt, sign, signatureVerify, mac, macVerify, rngRetrieve].map((c) => [c.operation, c]),
);
