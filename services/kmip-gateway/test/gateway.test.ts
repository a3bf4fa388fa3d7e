// The gateway over real mTLS in front of the real key-lifecycle, crk-wrapping,
// Key Protect emulator and Redis.
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import {
  BatchErrorContinuationOption, CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, QueryFunction,
  RequestMessage, ResultReason, ResultStatus, State, attr, encodeRequest, fromHex, request, vcenter, vcenterBatchId,
} from '@keywarden/kmip';
import { certFingerprint, issueCertificate } from '@keywarden/common';
import { Gateway, grpcLifecycleBackend, startGateway, LifecycleBackend } from '@keywarden/kmip-gateway';
import { KmipClient, TestStack, TestTenant, startStack } from '../../../test/lib';

let stack: TestStack;
let gw: Gateway;
let backend: LifecycleBackend;
let tenantA: TestTenant;
let tenantB: TestTenant;

beforeAll(async () => {
  stack = await startStack();
  backend = grpcLifecycleBackend({ address: `localhost:${stack.lifecyclePort}`, tls: stack.pki.gateway });
  gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, readTimeoutMs: 1500 });
  tenantA = await stack.createTenant('tenant-a');
  tenantB = await stack.createTenant('tenant-b');
}, 60_000);

afterAll(async () => {
  const t0 = Date.now();
  await gw?.close(1000);
  const t1 = Date.now();
  backend?.close();
  await stack?.close();
  if (Date.now() - t0 > 3000) console.warn(`slow teardown: gateway ${t1 - t0} ms, stack ${Date.now() - t1} ms`);
}, 30_000);

const connect = (t: TestTenant, extra: Partial<Parameters<typeof KmipClient.connect>[0]> = {}) =>
  KmipClient.connect({ port: gw.port, ca: stack.pki.ca.cert, cert: t.client.cert, key: t.client.key, ...extra });

async function one(c: KmipClient, m: RequestMessage) {
  const r = await c.send(m);
  expect(r.batchItems).toHaveLength(1);
  return r.batchItems[0];
}

describe('the vCenter conversation (docs/vcenter.md)', () => {
  test('discover, query, create, tag, get, activate — all in KMIP 1.1', async () => {
    const c = await connect(tenantA);
    try {
      const dv = await c.send(vcenter.discoverVersions());
      expect(dv.header.protocolVersion).toEqual({ major: 1, minor: 1 });
      expect(dv.batchItems[0].resultStatus).toBe(ResultStatus.Success);
      expect(dv.batchItems[0].payload.protocolVersions).toContainEqual({ major: 1, minor: 1 });
      const dv2 = await one(c, vcenter.discoverVersions(1));
      expect(dv2.uniqueBatchItemId).toEqual(vcenterBatchId(1));

      const q = await one(c, vcenter.queryServerInformation(2));
      expect(q.resultStatus).toBe(ResultStatus.Success);
      expect(q.payload.vendorIdentification).toBe('keywarden');

      const created = await one(c, vcenter.create(3));
      expect(created.resultStatus).toBe(ResultStatus.Success);
      const uid: string = created.payload.uniqueIdentifier;
      expect(uid).toMatch(/\S/);

      for (const [i, name] of ['x-Product_Version', 'x-Vendor', 'x-Product'].entries()) {
        const ga = await one(c, vcenter.getAttributes(4 + i, uid, name));
        expect(ga.resultStatus).toBe(ResultStatus.Success);
        expect(ga.payload).toEqual({ uniqueIdentifier: uid, attributes: [] });
      }

      const tagged = await c.send(vcenter.tagBatch(10, uid));
      expect(tagged.batchItems.map((b) => [b.resultStatus, b.uniqueBatchItemId])).toEqual([10, 11, 12].map((n) => [ResultStatus.Success, vcenterBatchId(n)]));
      const vendor = await one(c, vcenter.getAttributes(13, uid, 'x-Vendor'));
      expect(vendor.payload.attributes).toEqual([attr.text('x-Vendor', 'VMware, Inc.')]);

      const got = await one(c, vcenter.get(14, uid));
      expect(got.resultStatus).toBe(ResultStatus.Success);
      expect(got.payload.object.keyBlock).toMatchObject({ keyFormatType: KeyFormatType.Raw, cryptographicAlgorithm: CryptographicAlgorithm.AES, cryptographicLength: 256 });
      expect(got.payload.object.keyBlock.keyMaterial).toHaveLength(32);

      const state = await one(c, vcenter.getAttributes(15, uid, 'State'));
      expect(state.payload.attributes).toEqual([attr.enumeration('State', State.PreActive)]);
      expect((await one(c, vcenter.activate(16, uid))).resultStatus).toBe(ResultStatus.Success);
      const active = await one(c, vcenter.getAttributes(17, uid, 'State'));
      expect(active.payload.attributes).toEqual([attr.enumeration('State', State.Active)]);

      // Same key bytes on a new connection (an ESXi host fetching after reboot).
      const c2 = await connect(tenantA);
      const again = await one(c2, vcenter.get(1, uid));
      expect(again.payload.object.keyBlock.keyMaterial.equals(got.payload.object.keyBlock.keyMaterial)).toBe(true);
      await c2.close();
    } finally {
      await c.close();
    }
  });
});

describe('identity and isolation', () => {
  test('an unregistered certificate gets Permission Denied naming its fingerprint', async () => {
    const stranger = issueCertificate(null, { commonName: 'stranger', usage: 'client' });
    const c = await KmipClient.connect({ port: gw.port, ca: stack.pki.ca.cert, cert: stranger.cert, key: stranger.key });
    const r = await one(c, vcenter.discoverVersions());
    expect(r.resultStatus).toBe(ResultStatus.OperationFailed);
    expect(r.resultReason).toBe(ResultReason.PermissionDenied);
    expect(r.resultMessage).toContain(certFingerprint(stranger.cert));
    await c.close();
  });

  test('a client without a certificate gets Permission Denied', async () => {
    const c = await KmipClient.connect({ port: gw.port, ca: stack.pki.ca.cert });
    const r = await one(c, vcenter.create(1));
    expect(r.resultReason).toBe(ResultReason.PermissionDenied);
    await c.close();
  });

  test("another tenant's key answers exactly like a missing one", async () => {
    const a = await connect(tenantA);
    const b = await connect(tenantB);
    const uid = (await one(a, vcenter.create(1))).payload.uniqueIdentifier;
    const foreign = await one(b, vcenter.get(2, uid));
    const missing = await one(b, vcenter.get(3, 'no-such-key'));
    expect(foreign.resultReason).toBe(ResultReason.ItemNotFound);
    expect(missing.resultReason).toBe(ResultReason.ItemNotFound);
    expect(foreign.resultMessage?.replace(uid, 'X')).toBe(missing.resultMessage?.replace('no-such-key', 'X'));
    await a.close();
    await b.close();
  });

  test('removing a certificate closes its open connections at once', async () => {
    const t = await stack.createTenant();
    const c = await connect(t);
    expect((await one(c, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    const closed = new Promise<void>((r) => c.socket.once('close', () => r()));
    await stack.adminCall('removeCertificate', { fingerprint: certFingerprint(t.client.cert) });
    await closed;
    const c2 = await connect(t);
    expect((await one(c2, vcenter.discoverVersions())).resultReason).toBe(ResultReason.PermissionDenied);
    await c2.close();
  });
});

describe('batches, versions and limits', () => {
  test('Continue runs every item; Stop ends at the first failure; IDs are echoed', async () => {
    const c = await connect(tenantA);
    const items = [
      { operation: Operation.Get, uniqueBatchItemId: Buffer.from('a'), payload: { uniqueIdentifier: 'missing-1' } },
      { operation: Operation.DiscoverVersions, uniqueBatchItemId: Buffer.from('b'), payload: { protocolVersions: [] } },
    ];
    const cont = await c.send({ header: { protocolVersion: { major: 1, minor: 1 }, batchCount: 2, batchErrorContinuationOption: BatchErrorContinuationOption.Continue }, batchItems: items });
    expect(cont.batchItems.map((i) => [i.uniqueBatchItemId?.toString(), i.resultStatus])).toEqual([['a', ResultStatus.OperationFailed], ['b', ResultStatus.Success]]);
    const stop = await c.send({ header: { protocolVersion: { major: 1, minor: 1 }, batchCount: 2 }, batchItems: items });
    expect(stop.batchItems.map((i) => i.uniqueBatchItemId?.toString())).toEqual(['a']);
    await c.close();
  });

  test('Undo compensates a successful Create when a later item fails', async () => {
    const c = await connect(tenantA);
    const r = await c.send({
      header: { protocolVersion: { major: 1, minor: 2 }, batchCount: 2, batchErrorContinuationOption: BatchErrorContinuationOption.Undo },
      batchItems: [vcenter.create(1).batchItems[0], { operation: Operation.Get, payload: { uniqueIdentifier: 'missing' } }],
    });
    expect(r.batchItems.map((i) => i.resultStatus)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    await c.close();
  });

  test('the ID Placeholder carries a Create uid to the next items of the batch', async () => {
    const c = await connect(tenantA);
    const r = await c.send(request([
      vcenter.create(1).batchItems[0],
      { operation: Operation.AddAttribute, payload: { attribute: attr.text('x-Name', 'vm-1') } },
      { operation: Operation.GetAttributes, payload: { attributeNames: ['x-Name'] } },
    ]));
    expect(r.batchItems.map((i) => i.resultStatus)).toEqual([0, 0, 0]);
    expect(r.batchItems[2].payload.attributes).toEqual([attr.text('x-Name', 'vm-1')]);
    expect(r.batchItems[2].payload.uniqueIdentifier).toBe(r.batchItems[0].payload.uniqueIdentifier);
    await c.close();
  });

  test('an unsupported operation is named in its error text, in every version', async () => {
    const c = await connect(tenantA);
    try {
      const versions = [{ major: 1, minor: 0 }, { major: 1, minor: 1 }, { major: 1, minor: 2 }, { major: 1, minor: 4 }, { major: 2, minor: 0 }, { major: 2, minor: 1 }];
      for (const v of versions) {
        const ops: Array<[number, string]> = [[Operation.Certify, 'Certify'], [Operation.ReKey, 'Re-key']];
        if (v.major > 1 || v.minor >= 2) ops.push([Operation.Hash, 'Hash']);
        for (const [operation, name] of ops) {
          const r = await one(c, request([{ operation, payload: {} }], v));
          expect({ v, reason: r.resultReason, message: r.resultMessage }).toEqual({ v, reason: ResultReason.OperationNotSupported, message: `${name} is not supported` });
        }
      }
      // Encrypt is not a KMIP 1.1 operation: named, and said to be undefined there.
      const r = await one(c, request([{ operation: Operation.Encrypt, payload: {} }], { major: 1, minor: 1 }));
      expect(r.resultMessage).toBe('Encrypt is not defined in KMIP 1.1');
    } finally {
      await c.close();
    }
  });

  test('Maximum Response Size is honoured with Response Too Large', async () => {
    const c = await connect(tenantA);
    const uid = (await one(c, vcenter.create(1))).payload.uniqueIdentifier;
    const m = vcenter.get(2, uid);
    m.header.maximumResponseSize = 64;
    const r = await one(c, m);
    expect(r.resultReason).toBe(ResultReason.ResponseTooLarge);
    await c.close();
  });

  test('each request is answered in its own version; Query lists only what that version defines', async () => {
    const c = await connect(tenantA);
    for (const v of [{ major: 1, minor: 0 }, { major: 1, minor: 4 }, { major: 2, minor: 0 }, { major: 2, minor: 1 }]) {
      const r = await c.send(request([{ operation: Operation.Query, payload: { queryFunctions: [QueryFunction.QueryOperations, QueryFunction.QueryObjects] } }], v));
      expect(r.header.protocolVersion).toEqual(v);
      const ops: number[] = r.batchItems[0].payload.operations;
      expect(ops).toContain(Operation.Get);
      expect(ops.includes(Operation.DiscoverVersions)).toBe(v.major > 1 || v.minor >= 1);
      expect(r.batchItems[0].payload.objectTypes).toEqual([
        ObjectType.Certificate, ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey, ObjectType.SecretData, ObjectType.OpaqueObject,
      ]);
    }
    const locate = await c.send(request([{ operation: Operation.Locate, payload: { attributes: [attr.enumeration('Object Type', ObjectType.SymmetricKey)], maximumItems: 1 } }], { major: 1, minor: 4 }));
    expect(locate.batchItems[0].payload.locatedItems).toBeGreaterThanOrEqual(1);
    expect(locate.batchItems[0].payload.uniqueIdentifiers).toHaveLength(1);
    await c.close();
  });

  test('KMIP 2.0: Create with Attributes, custom attribute as vendor attribute, Get', async () => {
    const c = await connect(tenantA);
    const v2 = { major: 2, minor: 0 };
    const created = (await c.send(request([{ operation: Operation.Create, payload: { objectType: ObjectType.SymmetricKey, attributes: [attr.enumeration('Cryptographic Algorithm', CryptographicAlgorithm.AES), attr.integer('Cryptographic Length', 128), attr.integer('Cryptographic Usage Mask', 12)] } }], v2))).batchItems[0];
    expect(created.resultStatus).toBe(ResultStatus.Success);
    const uid = created.payload.uniqueIdentifier;
    const add = await c.send(request([{ operation: Operation.AddAttribute, payload: { uniqueIdentifier: uid, attribute: attr.text('x-Owner', 'ops') } }], v2));
    expect(add.batchItems[0].resultStatus).toBe(ResultStatus.Success);
    const got = await c.send(request([{ operation: Operation.GetAttributes, payload: { uniqueIdentifier: uid, attributeNames: ['x-Owner', 'Cryptographic Length'] } }], v2));
    expect([got.batchItems[0].resultStatus, got.batchItems[0].resultMessage]).toEqual([ResultStatus.Success, undefined]);
    expect(got.batchItems[0].payload.attributes).toEqual(expect.arrayContaining([attr.text('x-Owner', 'ops'), attr.integer('Cryptographic Length', 128)]));
    const key = await c.send(request([{ operation: Operation.Get, payload: { uniqueIdentifier: uid } }], v2));
    expect(key.batchItems[0].payload.object.keyBlock.keyMaterial).toHaveLength(16);
    await c.close();
  });

  test('a reason is sent as the response\'s version names it (Get of a destroyed key: Illegal Operation in 1.4, Object Destroyed in 2.x), not General Failure', async () => {
    const c = await connect(tenantA);
    const uid = (await one(c, vcenter.create(1))).payload.uniqueIdentifier;
    expect((await one(c, request([{ operation: Operation.Destroy, payload: { uniqueIdentifier: uid } }]))).resultStatus).toBe(ResultStatus.Success);
    const get = (v: { major: number; minor: number }) => c.send(request([{ operation: Operation.Get, payload: { uniqueIdentifier: uid } }], v));
    const v14 = (await get({ major: 1, minor: 4 })).batchItems[0];
    expect([v14.resultReason, v14.resultMessage]).toEqual([ResultReason.IllegalOperation, expect.stringMatching(/destroyed/)]);
    for (const v of [{ major: 2, minor: 0 }, { major: 2, minor: 1 }]) {
      const item = (await get(v)).batchItems[0];
      expect([item.resultReason, item.resultMessage]).toEqual([ResultReason.ObjectDestroyed, v14.resultMessage]);
    }
    // Activate of a destroyed key: Wrong Key Lifecycle State in 2.x.
    const act = (await c.send(request([{ operation: Operation.Activate, payload: { uniqueIdentifier: uid } }], { major: 2, minor: 0 }))).batchItems[0];
    expect(act.resultStatus).toBe(ResultStatus.OperationFailed);
    expect(act.resultReason).not.toBe(ResultReason.GeneralFailure);
    await c.close();
  });

  test('KMIP 2.0 Modify and Delete Attribute act on the instance named by Current Attribute', async () => {
    const c = await connect(tenantA);
    const v2 = { major: 2, minor: 0 };
    const uid = (await one(c, vcenter.create(1))).payload.uniqueIdentifier;
    for (const owner of ['ops', 'security', 'audit']) {
      expect((await one(c, request([{ operation: Operation.AddAttribute, payload: { uniqueIdentifier: uid, attribute: attr.text('x-Owner', owner) } }]))).resultStatus).toBe(ResultStatus.Success);
    }
    const owners = async () => {
      const r = await one(c, request([{ operation: Operation.GetAttributes, payload: { uniqueIdentifier: uid, attributeNames: ['x-Owner'] } }]));
      return (r.payload.attributes as Array<{ value: { value: string } }>).map((a) => a.value.value).sort();
    };
    const del = await c.send(request([{ operation: Operation.DeleteAttribute, payload: { uniqueIdentifier: uid, attributeName: 'x-Owner', currentValue: attr.text('x-Owner', 'security').value } }], v2));
    expect(del.batchItems[0].resultStatus).toBe(ResultStatus.Success);
    expect(await owners()).toEqual(['audit', 'ops']);
    const mod = await c.send(request([{ operation: Operation.ModifyAttribute, payload: { uniqueIdentifier: uid, currentAttribute: attr.text('x-Owner', 'audit'), attribute: attr.text('x-Owner', 'platform') } }], v2));
    expect(mod.batchItems[0].resultStatus).toBe(ResultStatus.Success);
    expect(await owners()).toEqual(['ops', 'platform']);
    const none = await c.send(request([{ operation: Operation.DeleteAttribute, payload: { uniqueIdentifier: uid, attributeName: 'x-Owner', currentValue: attr.text('x-Owner', 'nobody').value } }], v2));
    expect(none.batchItems[0].resultReason).toBe(ResultReason.AttributeNotFound);
    expect(await owners()).toEqual(['ops', 'platform']);
    await c.close();
  });

  test("an operation the request's version does not define (Discover Versions in KMIP 1.0) fails that item only", async () => {
    const c = await connect(tenantA);
    const r = await c.send({
      header: { protocolVersion: { major: 1, minor: 0 }, batchCount: 3, batchErrorContinuationOption: BatchErrorContinuationOption.Continue },
      batchItems: [
        vcenter.create(1).batchItems[0],
        { operation: Operation.DiscoverVersions, uniqueBatchItemId: Buffer.from('dv'), payload: { protocolVersions: [] } },
        { operation: 0x7777, rawPayload: { tag: 0x420079, type: 1, value: [] } },
      ],
    });
    expect(r.header.protocolVersion).toEqual({ major: 1, minor: 0 });
    const [created, dv, unknown] = r.batchItems;
    expect(created.resultStatus).toBe(ResultStatus.Success);
    expect(created.payload.uniqueIdentifier).toMatch(/\S/);
    expect([dv.operation, dv.uniqueBatchItemId?.toString(), dv.resultReason]).toEqual([undefined, 'dv', ResultReason.OperationNotSupported]);
    expect(dv.resultMessage).toContain('KMIP 1.0');
    expect([unknown.operation, unknown.resultReason]).toEqual([undefined, ResultReason.OperationNotSupported]);
    await c.close();
  });

  test('an operation the server does not implement gets Operation Not Supported', async () => {
    const c = await connect(tenantA);
    const r = await one(c, request([{ operation: Operation.ReKey, rawPayload: { tag: 0x420079, type: 1, value: [] } }]));
    expect(r.resultReason).toBe(ResultReason.OperationNotSupported);
    await c.close();
  });

  test('a bad payload fails its own item only', async () => {
    const c = await connect(tenantA);
    // Create without Object Type: Invalid Field for that item; the Discover Versions item still succeeds.
    const r = await c.send({
      header: { protocolVersion: { major: 1, minor: 1 }, batchCount: 2, batchErrorContinuationOption: BatchErrorContinuationOption.Continue },
      batchItems: [{ operation: Operation.Create, rawPayload: { tag: 0x420079, type: 1, value: [] } }, { operation: Operation.DiscoverVersions, payload: { protocolVersions: [] } }],
    });
    expect(r.batchItems.map((i) => [i.resultStatus, i.resultReason])).toEqual([[ResultStatus.OperationFailed, ResultReason.InvalidField], [ResultStatus.Success, undefined]]);
    await c.close();
  });
});

describe('TLS', () => {
  test('TLS 1.2 with the RSA AES-CBC-SHA256 suite vCenter 7.0.3 used, and TLS 1.3, both serve', async () => {
    const c12 = await connect(tenantA, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA256' });
    expect(c12.socket.getCipher().standardName).toBe('TLS_RSA_WITH_AES_128_CBC_SHA256');
    expect((await one(c12, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    await c12.close();
    const c13 = await connect(tenantA, { minVersion: 'TLSv1.3' });
    expect(c13.socket.getProtocol()).toBe('TLSv1.3');
    await c13.close();
  });

  test('weak suites are refused', async () => {
    await expect(connect(tenantA, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' })).rejects.toThrow();
  });

  test('an ECDSA server certificate works', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-ecdsa-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-addext', 'extendedKeyUsage=serverAuth',
      '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
    const cert = fs.readFileSync(path.join(dir, 'c.pem'));
    const g = await startGateway({ port: 0, host: '127.0.0.1', cert, key: fs.readFileSync(path.join(dir, 'k.pem')), backend });
    const c = await KmipClient.connect({ port: g.port, ca: cert, cert: tenantA.client.cert, key: tenantA.client.key, maxVersion: 'TLSv1.2' });
    expect(c.socket.getCipher().name).toMatch(/ECDHE-ECDSA/);
    expect((await one(c, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    await c.close();
    await g.close(500);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('bad input on the socket', () => {
  test('garbage bytes get an Invalid Message reply and a clean close; others keep being served', async () => {
    const c = await connect(tenantA);
    const reply = await c.sendRaw(fromHex('13 37 00 01 02 03 04 05 06 07'));
    expect(reply.length).toBeGreaterThan(0);
    await new Promise((r) => c.socket.once('close', r));
    const ok = await connect(tenantA);
    expect((await one(ok, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    await ok.close();
  });

  test('a batch over the item limit (256) gets one Invalid Message answer; the connection keeps serving', async () => {
    const c = await connect(tenantA);
    try {
      const dv = (n: number) => request(Array.from({ length: n }, (_, i) => ({ ...vcenter.discoverVersions(i).batchItems[0] })));
      const full = await c.send(dv(256));
      expect(full.batchItems).toHaveLength(256);
      expect(full.batchItems.every((it) => it.resultStatus === ResultStatus.Success)).toBe(true);
      const over = await one(c, dv(257));
      expect(over).toMatchObject({ resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.InvalidMessage });
      expect(over.resultMessage).toBe("a batch of 257 items exceeds this server's limit of 256");
      expect((await one(c, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    } finally {
      await c.close();
    }
  });

  test('an oversized length header is refused before the body arrives', async () => {
    const c = await connect(tenantA);
    const reply = await c.sendRaw(fromHex('42 00 78 01 7F FF FF F8'));
    expect(reply.subarray(0, 3).toString('hex')).toBe('42007b');
    await new Promise((r) => c.socket.once('close', r));
  });

  test('a message that never completes is dropped after the read timeout (slow-loris)', async () => {
    const c = await connect(tenantA);
    const bytes = encodeRequest(vcenter.discoverVersions());
    c.socket.write(bytes.subarray(0, 20));
    const t0 = Date.now();
    await new Promise((r) => c.socket.once('close', r));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  test('a half-closed client still gets its answer', async () => {
    const c = await connect(tenantA);
    const p = c.sendRaw(encodeRequest(vcenter.discoverVersions()));
    c.socket.end();
    const reply = await p;
    expect(reply.subarray(0, 3).toString('hex')).toBe('42007b');
  });

  test('connect-and-close health checks (TCP only and TLS only) leave the gateway serving', async () => {
    const net = await import('net');
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((r) => { const s = net.connect(gw.port, '127.0.0.1', () => { s.destroy(); r(); }); });
      const c = await connect(tenantA);
      await c.close();
    }
    const ok = await connect(tenantA);
    expect((await one(ok, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    await ok.close();
  });
});

describe('capacity and shutdown', () => {
  test('connections beyond the cap are closed without disturbing the others', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, maxConnections: 2 });
    const opts = { port: g.port, ca: stack.pki.ca.cert, cert: tenantA.client.cert, key: tenantA.client.key };
    const a = await KmipClient.connect(opts);
    const b = await KmipClient.connect(opts);
    await expect(KmipClient.connect(opts).then((c) => c.send(vcenter.discoverVersions()))).rejects.toThrow();
    expect((await one(a, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success);
    await a.close();
    await b.close();
    await g.close(500);
  });

  test('shutdown answers the request in flight, then closes', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend });
    const c = await KmipClient.connect({ port: g.port, ca: stack.pki.ca.cert, cert: tenantA.client.cert, key: tenantA.client.key });
    expect((await one(c, vcenter.discoverVersions())).resultStatus).toBe(ResultStatus.Success); // identified
    stack.emulator.faults.set({ latencyMs: 400 }); // a slow root-key provider keeps the Create in flight
    try {
      const pending = c.send(vcenter.create(1));
      await new Promise((r) => setTimeout(r, 150));
      const closing = g.close(5000);
      const r = await pending;
      expect(r.batchItems[0].resultStatus).toBe(ResultStatus.Success);
      await closing;
      expect(c.socket.destroyed || c.socket.readableEnded).toBe(true);
      await expect(KmipClient.connect({ port: g.port, ca: stack.pki.ca.cert })).rejects.toThrow();
    } finally {
      stack.emulator.faults.clear();
      await c.close();
    }
  });
});

describe('metrics', () => {
  test('handshakes, connections, operations by result and latency histograms are exported', async () => {
    const g = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, metricsPort: 0 });
    const c = await KmipClient.connect({ port: g.port, ca: stack.pki.ca.cert, cert: tenantA.client.cert, key: tenantA.client.key });
    await c.send(vcenter.discoverVersions());
    await c.send(vcenter.get(1, 'no-such-key'));
    const text = await (await fetch(`http://127.0.0.1:${g.metricsPort}/metrics`)).text();
    expect(text).toMatch(/kmip_gateway_tls_handshakes_total\{result="ok"[^}]*\} 1/);
    expect(text).toMatch(/kmip_gateway_tls_handshake_seconds_count\{[^}]*\} 1/);
    expect(text).toMatch(/kmip_gateway_connections\{[^}]*\} 1/);
    expect(text).toMatch(new RegExp(`kmip_gateway_operations_total\\{operation="${Operation.DiscoverVersions}",status="0",reason=""[^}]*\\} 1`));
    expect(text).toMatch(new RegExp(`kmip_gateway_operations_total\\{operation="${Operation.Get}",status="1",reason="${ResultReason.ItemNotFound}"[^}]*\\} 1`));
    expect(text).toMatch(new RegExp(`kmip_gateway_operation_seconds_count\\{[^}]*operation="${Operation.Get}"[^}]*\\} 1`));
    expect(text).not.toMatch(/no-such-key/);
    await c.close();
    await g.close(500);
  });
});


describe('trust boundaries on the KMIP port (docs/architecture.md, "Trust model")', () => {
  const internalIds = () => [['an operator', stack.pki.admin], ['the gateway', stack.pki.gateway], ['key-lifecycle', stack.pki.lifecycle], ['crk-wrapping', stack.pki.wrapping]] as const;

  test("keywarden's internal identities are not KMIP clients, and cannot be made ones", async () => {
    for (const [what, id] of internalIds()) {
      const c = await KmipClient.connect({ port: gw.port, ca: stack.pki.ca.cert, cert: id.cert, key: id.key });
      try {
        const r = await one(c, vcenter.create(1));
        expect({ what, reason: r.resultReason }).toEqual({ what, reason: ResultReason.PermissionDenied });
        expect(r.resultMessage).toContain(certFingerprint(id.cert.toString()));
      } finally {
        await c.close();
      }
      await expect(stack.adminCall('addCertificate', { tenantId: tenantA.id, pem: id.cert.toString() })).rejects.toMatchObject({ code: 3 });
    }
  });

  test('ca trust mode: only certificates of the KMIP CA complete the handshake, registered or not', async () => {
    const g = await startGateway({
      port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend, trustMode: 'ca', clientCa: stack.pki.ca.cert,
    });
    try {
      const signed = issueCertificate(stack.pki.ca, { commonName: 'vcenter-ca-mode', usage: 'client' });
      await stack.adminCall('addCertificate', { tenantId: tenantA.id, pem: signed.cert });
      const ok = await KmipClient.connect({ port: g.port, ca: stack.pki.ca.cert, cert: signed.cert, key: signed.key });
      expect((await one(ok, vcenter.create(1))).resultStatus).toBe(ResultStatus.Success);
      await ok.close();
      // Internal identities and a registered self-signed certificate: refused by TLS itself.
      for (const id of [...internalIds().map(([, i]) => i), tenantA.client]) {
        await expect(KmipClient.connect({ port: g.port, ca: stack.pki.ca.cert, cert: id.cert, key: id.key }).then(async (c) => {
          try {
            return await c.send(vcenter.discoverVersions());
          } finally {
            await c.close();
          }
        })).rejects.toThrow();
      }
    } finally {
      await g.close(500);
    }
  });
});
