// A LifecycleBackend kept in memory, for the Dispatcher's unit tests: keys
// and their attributes in a Map, refusals raised as key-lifecycle raises them
// (a gRPC status with the KMIP reason in its metadata), and a journal of
// every call in order, so a test can see what the Dispatcher asked for.
import { randomBytes, randomUUID } from 'crypto';
import { grpc, KMIP_REASON_METADATA } from '@keywarden/common';
import { ResultReason } from '@keywarden/kmip';
import type { lifecycleV1 } from '@keywarden/proto';
import type { LifecycleBackend, LifecycleCall } from '@keywarden/kmip-gateway';

interface StoredKey {
  uid: string;
  objectType: number;
  material: Buffer;
  attributes: lifecycleV1.Attribute[];
  destroyed: boolean;
}

/** A failure as a grpc-js client sees one from key-lifecycle: status, text, and the KMIP reason. */
export function lifecycleError(code: grpc.status, reason: number, details: string): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set(KMIP_REASON_METADATA, String(reason));
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

export interface MemoryBackend extends LifecycleBackend {
  keys: Map<string, StoredKey>;
  /** Every call, in order: the method and the uid it named (or made). */
  journal: Array<[LifecycleCall, string]>;
  /** Makes the next call of `method` fail with `err`. */
  failNext(method: LifecycleCall, err: Error): void;
}

export function memoryBackend(): MemoryBackend {
  const keys = new Map<string, StoredKey>();
  const journal: Array<[LifecycleCall, string]> = [];
  const failures = new Map<LifecycleCall, Error>();
  const enter = (method: LifecycleCall, uid: string) => {
    journal.push([method, uid]);
    const f = failures.get(method);
    if (f) {
      failures.delete(method);
      throw f;
    }
  };
  const find = (uid: string): StoredKey => {
    const k = keys.get(uid);
    if (!k) throw lifecycleError(grpc.status.NOT_FOUND, ResultReason.ItemNotFound, `no object with unique identifier "${uid}"`);
    return k;
  };
  const nameTaken = (attributes: lifecycleV1.Attribute[], except?: string) => {
    for (const a of attributes.filter((x) => x.name === 'Name')) {
      const value = JSON.stringify(a.value);
      for (const k of keys.values()) {
        if (k.uid !== except && k.attributes.some((b) => b.name === 'Name' && JSON.stringify(b.value) === value)) {
          throw lifecycleError(grpc.status.ALREADY_EXISTS, ResultReason.NonUniqueNameAttribute, 'another object already has this Name');
        }
      }
    }
  };
  const add = (objectType: number, material: Buffer, attributes: lifecycleV1.Attribute[]): string => {
    nameTaken(attributes);
    const uid = randomUUID();
    keys.set(uid, { uid, objectType, material, attributes: attributes.map((a) => ({ ...a })), destroyed: false });
    return uid;
  };
  const backend: MemoryBackend = {
    keys,
    journal,
    failNext: (method, err) => { failures.set(method, err); },
    identify: async () => ({ tenantId: 'memory' }),
    async create(r) {
      enter('create', '');
      const uid = add(r.objectType, randomBytes(32), r.attributes);
      journal[journal.length - 1][1] = uid;
      return { uniqueIdentifier: uid };
    },
    async register(r) {
      enter('register', '');
      const uid = add(r.objectType, Buffer.from(r.keyMaterial), r.attributes);
      journal[journal.length - 1][1] = uid;
      return { uniqueIdentifier: uid };
    },
    async get(r) {
      enter('get', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      if (k.destroyed) throw lifecycleError(grpc.status.FAILED_PRECONDITION, ResultReason.ObjectDestroyed, 'the object has been destroyed');
      return {
        uniqueIdentifier: k.uid, objectType: k.objectType, keyFormatType: 1, keyMaterial: k.material,
        cryptographicAlgorithm: 3, cryptographicLength: k.material.length * 8, secretDataType: 0,
      };
    },
    async locate() {
      enter('locate', '');
      const uids = [...keys.keys()];
      return { locatedItems: uids.length, uniqueIdentifiers: uids };
    },
    async activate(r) {
      enter('activate', r.uniqueIdentifier);
      find(r.uniqueIdentifier);
      return { uniqueIdentifier: r.uniqueIdentifier };
    },
    async revoke(r) {
      enter('revoke', r.uniqueIdentifier);
      find(r.uniqueIdentifier);
      return { uniqueIdentifier: r.uniqueIdentifier };
    },
    async destroy(r) {
      enter('destroy', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      if (k.destroyed) throw lifecycleError(grpc.status.FAILED_PRECONDITION, ResultReason.ObjectDestroyed, 'object has already been destroyed');
      k.destroyed = true;
      return { uniqueIdentifier: k.uid };
    },
    async check(r) {
      enter('check', r.uniqueIdentifier);
      find(r.uniqueIdentifier);
      return { uniqueIdentifier: r.uniqueIdentifier };
    },
    async getAttributes(r) {
      enter('getAttributes', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      const attributes = r.attributeNames.length === 0 ? k.attributes : k.attributes.filter((a) => r.attributeNames.includes(a.name));
      return { uniqueIdentifier: k.uid, attributes };
    },
    async getAttributeList(r) {
      enter('getAttributeList', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      return { uniqueIdentifier: k.uid, attributeNames: [...new Set(k.attributes.map((a) => a.name))] };
    },
    async addAttribute(r) {
      enter('addAttribute', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      const a = r.attribute as lifecycleV1.Attribute;
      nameTaken([a], k.uid);
      const index = k.attributes.filter((b) => b.name === a.name).length;
      const stored = { ...a, index };
      k.attributes.push(stored);
      return { uniqueIdentifier: k.uid, attribute: stored };
    },
    async modifyAttribute(r) {
      enter('modifyAttribute', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      const a = r.attribute as lifecycleV1.Attribute;
      nameTaken([a], k.uid);
      const at = k.attributes.findIndex((b) => b.name === a.name && b.index === a.index);
      if (at < 0) throw lifecycleError(grpc.status.NOT_FOUND, ResultReason.AttributeNotFound, `attribute "${a.name}" does not exist`);
      k.attributes[at] = { ...a };
      return { uniqueIdentifier: k.uid, attribute: k.attributes[at] };
    },
    async deleteAttribute(r) {
      enter('deleteAttribute', r.uniqueIdentifier);
      const k = find(r.uniqueIdentifier);
      const at = k.attributes.findIndex((b) => b.name === r.attributeName && b.index === r.attributeIndex);
      if (at < 0) throw lifecycleError(grpc.status.NOT_FOUND, ResultReason.AttributeNotFound, `attribute "${r.attributeName}" does not exist`);
      const [gone] = k.attributes.splice(at, 1);
      return { uniqueIdentifier: k.uid, attribute: gone };
    },
    watchAccessRevocations: () => () => undefined,
    close: () => undefined,
  };
  return backend;
}
