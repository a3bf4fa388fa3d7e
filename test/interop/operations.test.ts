// Every operation the gateway serves, driven by PyKMIP (py/operations.py) over
// real mTLS against the full stack, in each protocol version PyKMIP 0.10 can
// speak: 1.0-1.4 (1.1 as vCenter, 1.2 as PyKMIP's default) and 2.0.
import { PyResult, interopSuite, steps } from './harness';

const ALL_OPERATIONS = [
  'ACTIVATE', 'ADD_ATTRIBUTE', 'CHECK', 'CREATE', 'CREATE_KEY_PAIR', 'DELETE_ATTRIBUTE', 'DERIVE_KEY', 'DESTROY', 'DISCOVER_VERSIONS', 'GET',
  'GET_ATTRIBUTES', 'GET_ATTRIBUTE_LIST', 'LOCATE', 'MODIFY_ATTRIBUTE', 'QUERY', 'REGISTER', 'REVOKE',
];
/** The cryptographic operations KMIP 1.2 added (docs/kmip-gateway.md, "Operations"). */
const SINCE_1_2 = ['DECRYPT', 'ENCRYPT', 'MAC', 'MAC_VERIFY', 'RNG_RETRIEVE', 'SIGN', 'SIGNATURE_VERIFY'];
/** What Query Operations answers a client of this version, sorted as the test's Python sorts it. */
const operationsOf = (clientVersion: number) => [
  ...ALL_OPERATIONS.filter((o) => clientVersion >= 1.1 || o !== 'DISCOVER_VERSIONS'),
  ...(clientVersion >= 1.2 ? SINCE_1_2 : []),
].sort();
const SERVER_VERSIONS = [[2, 1], [2, 0], [1, 4], [1, 3], [1, 2], [1, 1], [1, 0]];

/** [label, version given to PyKMIP (null: its default), the version PyKMIP reports using]. */
const VERSIONS: Array<[string, string | null, number]> = [
  ['1.0', '1.0', 1.0], ['1.1', '1.1', 1.1], ['1.2 (PyKMIP default)', null, 1.2], ['1.3', '1.3', 1.3], ['1.4', '1.4', 1.4], ['2.0', '2.0', 2.0],
];

const runs = new Map<string, Promise<PyResult>>();

interopSuite(async (io) => {
  // One tenant per version, so each run's Locate sees its own objects only; the
  // Python processes run at once (each uses one connection for all its steps).
  for (const [label, version] of VERSIONS) {
    const tenant = await io.stack.createTenant();
    const client = io.writeClient(`client-${label.replace(/\W/g, '')}`, tenant.client);
    const p = io.run('operations.py', { client, version, prefix: `ops${version ?? 'default'}` });
    p.catch(() => undefined); // awaited by its describe block
    runs.set(label, p);
  }
});

const attrs = (v: { attributes: Array<[string, number | null, unknown]> }) => v.attributes.map(([name, , value]) => [name, value]);

describe.each(VERSIONS)('PyKMIP, KMIP %s', (label, version, clientVersion) => {
  let s: ReturnType<typeof steps>;
  let uids: Record<string, string>;
  const v2 = version === '2.0';
  const sinceV12 = clientVersion >= 1.2;

  beforeAll(async () => {
    const run = runs.get(label);
    if (!run) throw new Error('the interop stack did not start: see the error of the first hook');
    const r = await run;
    s = steps(r);
    uids = r.out.uids;
  }, 60_000);

  test('the client speaks the version asked for; Discover Versions and Query answer truthfully', () => {
    expect(s.ok('clientVersion')).toBe(clientVersion);
    expect(s.ok('tls')[0]).toMatch(/^TLSv1\.[23]$/);
    if (version === '1.0') {
      // Discover Versions is a KMIP 1.1 operation.
      expect(s.ok('discoverVersions')).toMatchObject({ operation: null, status: 'OPERATION_FAILED', reason: 'OPERATION_NOT_SUPPORTED' });
    } else {
      expect(s.ok('discoverVersions')).toMatchObject({ status: 'SUCCESS', versions: SERVER_VERSIONS });
      expect(s.ok('discoverVersions11')).toMatchObject({ status: 'SUCCESS', versions: [[1, 1]] });
    }
    expect(s.ok('query')).toEqual({
      operations: operationsOf(clientVersion),
      objectTypes: ['CERTIFICATE', 'OPAQUE_DATA', 'PRIVATE_KEY', 'PUBLIC_KEY', 'SECRET_DATA', 'SYMMETRIC_KEY'],
      vendor: 'keywarden',
    });
  });

  test('Create makes AES keys of the asked length; Get returns them Raw', () => {
    expect(s.ok('create256')).toMatch(/\S/);
    expect(s.ok('get256')).toMatchObject({ objectType: 'SYMMETRIC_KEY', len: 32, cryptographic_algorithm: 'AES', cryptographic_length: 256, key_format_type: 'RAW' });
    expect(s.ok('get128')).toMatchObject({ objectType: 'SYMMETRIC_KEY', len: 16, cryptographic_algorithm: 'AES', cryptographic_length: 128, key_format_type: 'RAW' });
    expect(s.ok('get256').sha256).not.toBe(s.ok('get128').sha256);
    expect(s.failed('getMissing').reason).toBe('ITEM_NOT_FOUND');
  });

  test('Register of a symmetric key and of secret data: Get gives back the same bytes (compared by digest)', () => {
    const sent = s.ok('registeredDigests');
    expect(s.ok('getSymmetric')).toMatchObject({ objectType: 'SYMMETRIC_KEY', len: 32, sha256: sent.symmetric, cryptographic_algorithm: 'AES', cryptographic_length: 256 });
    expect(s.ok('getSecret')).toMatchObject({ objectType: 'SECRET_DATA', len: 24, sha256: sent.secret, data_type: 'PASSWORD' });
    // PyKMIP names every unnamed pie object "Symmetric Key"; names are unique per tenant.
    expect(s.ok('registerUnnamed')).toBe(uids.unnamed);
    // A taken Name: Non-Unique Name Attribute in 2.x, Illegal Operation in 1.x (KMIP 1.4 §11.4).
    const again = s.failed('registerUnnamedAgain');
    expect(again.reason).toBe(v2 ? 'NON_UNIQUE_NAME_ATTRIBUTE' : 'ILLEGAL_OPERATION');
    expect(again.message).toContain('"Symmetric Key"');
  });

  test('Get Attributes and Get Attribute List', () => {
    expect(attrs(s.ok('getAttributesNamed'))).toEqual([
      ['Cryptographic Algorithm', 'AES'], ['Cryptographic Length', 256], ['Cryptographic Usage Mask', 12],
      ['State', 'PRE_ACTIVE'], ['Object Type', 'SYMMETRIC_KEY'], ['Name', `ops${version ?? 'default'}-aes256`],
    ]);
    expect(attrs(s.ok('getAttributesSecret'))).toEqual([['Object Type', 'SECRET_DATA'], ['Cryptographic Usage Mask', 512], ['State', 'PRE_ACTIVE']]);
    const all = s.ok('getAttributesAll');
    if (sinceV12) {
      // PyKMIP 0.10 has no decoder for Original Creation Date (a KMIP 1.2 attribute); see docs/interop.md.
      expect(all).toEqual({ pykmipCannotDecode: 'Original Creation Date' });
    } else {
      expect(attrs(all)).toEqual(expect.arrayContaining([
        ['Unique Identifier', uids.aes128], ['Object Type', 'SYMMETRIC_KEY'], ['Cryptographic Usage Mask', 60], ['State', 'PRE_ACTIVE'],
      ]));
    }
    const list: string[] = s.ok('getAttributeList');
    expect(list).toEqual(expect.arrayContaining(['Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Usage Mask', 'Name', 'Object Type', 'State', 'Unique Identifier']));
    // Only attributes the client's version defines.
    expect(list.includes('Original Creation Date')).toBe(sinceV12);
  });

  test('Add, Modify and Delete Attribute, custom and standard', () => {
    if (v2) {
      // 2.x answers Add Attribute with the uid only; custom names come back as vendor attributes.
      expect(s.ok('addAttribute')).toEqual({ uid: uids.aes256, attribute: null });
      expect(s.ok('getAttributeListAfterAdd')).toContain('Owner');
      expect(s.ok('modifyAttribute')).toBe(uids.aes256);
      // Current Attribute picks the instance: the second Name changed, the first kept.
      expect(attrs(s.ok('namesAfterModify'))).toEqual([['Name', 'ops2.0-aes256'], ['Name', 'ops2.0-alias-renamed']]);
      expect(s.ok('deleteAttribute')).toBe(uids.aes256);
      expect(attrs(s.ok('namesAfterDelete'))).toEqual([['Name', 'ops2.0-aes256']]);
      expect(s.failed('modifyMissingAttribute').reason).toBe('ATTRIBUTE_NOT_FOUND');
      return;
    }
    const p = `ops${version ?? 'default'}`;
    expect(s.ok('addAttribute')).toEqual({ uid: uids.aes256, attribute: [['x-Owner', null, 'ops']] });
    expect(s.ok('addAttributeSecond')).toEqual({ uid: uids.aes256, attribute: [['x-Owner', 1, 'security']] });
    expect(s.ok('addName')).toEqual({ uid: uids.aes256, attribute: [['Name', 1, `${p}-alias`]] });
    expect(s.ok('getAttributeListAfterAdd')).toContain('x-Owner');
    expect(s.ok('getAttributesCustom').attributes).toEqual([['x-Owner', null, 'ops'], ['x-Owner', 1, 'security']]);
    expect(s.ok('modifyAttribute')).toEqual([['x-Owner', 1, 'platform']]);
    expect(s.ok('deleteAttribute')).toEqual([['x-Owner', null, 'ops']]);
    expect(s.ok('deleteName')).toEqual([['Name', 1, `${p}-alias`]]);
    expect(s.ok('attributesAfterEdit').attributes).toEqual([['x-Owner', 1, 'platform'], ['Name', null, `${p}-aes256`]]);
    const missing = s.failed('modifyMissingAttribute');
    expect(missing.reason).not.toBe('GENERAL_FAILURE');
    expect(missing.message).toContain('x-Nothing');
  });

  test('Locate by name, object type and state, with Maximum Items and Offset Items', () => {
    expect(s.ok('locateByName')).toEqual([uids.aes128]);
    expect(s.ok('locateByNameMissing')).toEqual([]);
    expect(s.ok('locateSecretData')).toEqual([uids.secret]);
    const symmetric: string[] = s.ok('locateSymmetric');
    expect([...symmetric].sort()).toEqual([uids.aes256, uids.aes128, uids.symmetric, uids.unnamed].sort());
    expect([...s.ok('locatePreActive')].sort()).toEqual(Object.values(uids).sort());
    expect(s.ok('locateMax2')).toEqual(symmetric.slice(0, 2));
    expect(s.ok('locateOffset1')).toEqual(symmetric.slice(1, 3));
    expect(s.ok('locateActive')).toEqual([uids.aes128]);
    // Destroyed objects (aes128, secret) are found only with Destroyed Storage (Storage Status Mask).
    expect([...s.ok('locateAfter')].sort()).toEqual([uids.aes256, uids.symmetric, uids.unnamed].sort());
  });

  test('Activate, Check, Revoke and Destroy follow the key state machine', () => {
    const notUsable = (name: string) => {
      const r = s.ok(name);
      expect({ name, ...r }).toMatchObject({ name, operation: 'CHECK', status: 'OPERATION_FAILED' });
      expect(r.reason).not.toBe('GENERAL_FAILURE');
    };
    notUsable('checkPreActive');
    s.ok('activate');
    expect(s.failed('activateAgain').reason).not.toBe('GENERAL_FAILURE');
    const active = s.ok('stateActive').attributes;
    expect(active[0]).toEqual(['State', null, 'ACTIVE']);
    expect(active[1][0]).toBe('Activation Date');
    expect(Math.abs(active[1][2] - Date.now() / 1000)).toBeLessThan(120);
    expect(s.ok('check')).toBe(uids.aes128);
    expect(s.ok('checkNoMask')).toMatchObject({ status: 'SUCCESS', uid: uids.aes128 });
    notUsable('checkWrongUsage');
    expect(s.ok('checkMissing')).toMatchObject({ status: 'OPERATION_FAILED', reason: 'ITEM_NOT_FOUND' });
    // An Active key must be revoked before it can be destroyed.
    expect(s.failed('destroyActive').reason).not.toBe('GENERAL_FAILURE');
    s.ok('revoke');
    expect(s.ok('stateDeactivated').attributes).toEqual([['State', null, 'DEACTIVATED']]);
    // A Deactivated key can still be fetched (to decrypt what it protected).
    expect(s.ok('getDeactivated')).toMatchObject({ len: 16, sha256: s.ok('get128').sha256 });
    s.ok('destroy');
    expect(s.ok('stateDestroyed').attributes).toEqual([['State', null, 'DESTROYED']]);
    // No key material after Destroy: Illegal Operation in 1.x, Object Destroyed in 2.x.
    expect(s.failed('getDestroyed').reason).toBe(v2 ? 'OBJECT_DESTROYED' : 'ILLEGAL_OPERATION');
    expect(s.failed('destroyAgain').reason).not.toBe('GENERAL_FAILURE');
    s.ok('destroyPreActive');
    s.ok('revokeCompromise');
    expect(s.ok('stateCompromised').attributes).toEqual([['State', null, 'COMPROMISED']]);
  });
});
