// An in-memory LifecycleBackend with canned answers, for the "gateway over a
// stub backend" benchmarks (issue 5) only: every certificate is known, Create
// returns a new identifier, Get returns one fixed random AES-256 key.
import { randomBytes, randomUUID } from 'crypto';
import type { LifecycleBackend } from '@keywarden/kmip-gateway';

const SYMMETRIC_KEY = 2;
const AES = 3;
const RAW = 1;

export function stubBackend(): LifecycleBackend {
  const key = randomBytes(32);
  const uid = () => randomUUID();
  const ok = <T>(v: T): Promise<T> => Promise.resolve(v);
  const withAttr = (r: { uniqueIdentifier: string; attribute?: unknown }) => ok({ uniqueIdentifier: r.uniqueIdentifier, attribute: undefined });
  const backend: LifecycleBackend = {
    identify: () => ok({ tenantId: 'bench' }),
    create: () => ok({ uniqueIdentifier: uid() }),
    register: () => ok({ uniqueIdentifier: uid() }),
    get: (r) => ok({
      uniqueIdentifier: r.uniqueIdentifier, objectType: SYMMETRIC_KEY, keyFormatType: RAW, keyMaterial: key,
      cryptographicAlgorithm: AES, cryptographicLength: 256, secretDataType: 0,
    }),
    locate: () => ok({ locatedItems: 0, uniqueIdentifiers: [] }),
    activate: (r) => ok({ uniqueIdentifier: r.uniqueIdentifier }),
    revoke: (r) => ok({ uniqueIdentifier: r.uniqueIdentifier }),
    destroy: (r) => ok({ uniqueIdentifier: r.uniqueIdentifier }),
    check: (r) => ok({ uniqueIdentifier: r.uniqueIdentifier }),
    getAttributes: (r) => ok({ uniqueIdentifier: r.uniqueIdentifier, attributes: [] }),
    getAttributeList: (r) => ok({ uniqueIdentifier: r.uniqueIdentifier, attributeNames: [] }),
    addAttribute: withAttr,
    modifyAttribute: withAttr,
    deleteAttribute: withAttr,
    watchAccessRevocations: () => () => undefined,
    close: () => undefined,
  };
  return backend;
}
