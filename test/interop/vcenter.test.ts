// The conversation vCenter has with a KMS for one new key (docs/vcenter.md),
// played by PyKMIP in KMIP 1.1 over real mTLS against the full stack
// (py/vcenter.py): batch item IDs "QLKC"+counter echoed, Get Attributes of
// absent custom attributes, one request with three Add Attribute items, Get by
// uid only, Pre-Active then Activate, more tagging, and an ESXi host fetching
// the key after a reboot.
import { interopSuite, steps } from './harness';

let s: ReturnType<typeof steps>;
let uid: string;

interopSuite(async (io) => {
  const tenant = await io.stack.createTenant();
  const r = await io.run('vcenter.py', { client: io.writeClient('vcenter', tenant.client) });
  s = steps(r);
  uid = r.out.uid;
});

/** What every answer in the conversation carries: KMIP 1.1, one item, the request's batch item ID. */
function answer(name: string, operation: string) {
  const v = s.ok(name);
  expect({ name, ...v }).toMatchObject({ name, operation, status: 'SUCCESS', version: [1, 1], count: 1, idEchoed: true });
  return v;
}

test('health checks: a TLS handshake closed without KMIP data, with TLS 1.3 and with the suite vCenter 7.0.3 used', () => {
  expect(s.ok('healthCheckTls')[0]).toBe('TLSv1.3');
  expect(s.ok('healthCheckVcenterSuite')).toEqual(['TLSv1.2', 'AES128-SHA256']);
});

test('Discover Versions twice (without and with a batch item ID), then Query Server Information', () => {
  expect(answer('discoverVersions', 'DISCOVER_VERSIONS').versions).toContainEqual([1, 1]);
  const withId = answer('discoverVersionsWithId', 'DISCOVER_VERSIONS');
  expect(withId.batchId).toBe(Buffer.concat([Buffer.from('QLKC'), Buffer.from([1, 0, 0, 0])]).toString('hex'));
  expect(answer('queryServerInformation', 'QUERY').vendor).toBe('keywarden');
});

test('Create with exactly AES, usage mask 12, length 256 and no name', () => {
  expect(answer('create', 'CREATE')).toMatchObject({ objectType: 'SYMMETRIC_KEY', uid });
  expect(s.ok('storedAttributes')).toEqual(expect.arrayContaining([
    ['Cryptographic Algorithm', null, 'AES'], ['Cryptographic Length', null, 256], ['Cryptographic Usage Mask', null, 12],
  ]));
  expect(s.ok('storedAttributeList')).not.toContain('Name');
});

test('Get Attributes of custom attributes the key does not have yet: success with just the uid', () => {
  for (const name of ['x-Product_Version', 'x-Vendor', 'x-Product']) {
    expect(answer(`absent ${name}`, 'GET_ATTRIBUTES')).toMatchObject({ uid, attributes: [] });
  }
});

test('one request with three Add Attribute batch items tags the key; each item answered with its ID', () => {
  const tagged = s.ok('tagProduct');
  expect([tagged.requestItems, tagged.responseItems]).toEqual([3, 3]);
  expect(tagged.items).toEqual([
    ['x-Product_Version', '7.0.3 build-19480866'], ['x-Vendor', 'VMware, Inc.'], ['x-Product', 'VMware vSphere'],
  ].map(([name, value]) => expect.objectContaining({ operation: 'ADD_ATTRIBUTE', status: 'SUCCESS', idEchoed: true, uid, attribute: [[name, null, value]] })));
  expect(answer('present x-Product_Version', 'GET_ATTRIBUTES').attributes).toEqual([['x-Product_Version', null, '7.0.3 build-19480866']]);
  expect(answer('present x-Vendor', 'GET_ATTRIBUTES').attributes).toEqual([['x-Vendor', null, 'VMware, Inc.']]);
  expect(answer('present x-Product', 'GET_ATTRIBUTES').attributes).toEqual([['x-Product', null, 'VMware vSphere']]);
});

test('Get by uid only answers Raw, AES, 256 bits', () => {
  expect(answer('get', 'GET')).toMatchObject({ uid, objectType: 'SYMMETRIC_KEY', keyFormatType: 'RAW', algorithm: 'AES', length: 256, bytes: 32 });
});

test('State is Pre-Active; Activate makes it Active', () => {
  expect(answer('statePreActive', 'GET_ATTRIBUTES').attributes).toEqual([['State', null, 'PRE_ACTIVE']]);
  answer('activate', 'ACTIVATE');
  expect(answer('stateActive', 'GET_ATTRIBUTES').attributes).toEqual([['State', null, 'ACTIVE']]);
});

test('more tagging: x-Identifier, x-Component, x-Name', () => {
  const tagged = s.ok('tagVm');
  expect(tagged.items.map((i: { status: string; idEchoed: boolean }) => [i.status, i.idEchoed])).toEqual([['SUCCESS', true], ['SUCCESS', true], ['SUCCESS', true]]);
  expect(answer('present x-Identifier', 'GET_ATTRIBUTES').attributes).toEqual([['x-Identifier', null, '564d7a1e-0c4b-2f43-8e7e-3d2bb1a9c001']]);
  expect(answer('present x-Component', 'GET_ATTRIBUTES').attributes).toEqual([['x-Component', null, 'Virtual Machine']]);
  expect(answer('present x-Name', 'GET_ATTRIBUTES').attributes).toEqual([['x-Name', null, 'vm-web-01']]);
});

test('an ESXi host after a reboot gets the same key on a new connection (same digest)', () => {
  answer('esxiDiscoverVersions', 'DISCOVER_VERSIONS');
  expect(answer('esxiGet', 'GET')).toMatchObject({ uid, bytes: 32, sha256: s.ok('get').sha256 });
});
