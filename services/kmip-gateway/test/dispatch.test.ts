// The Dispatcher alone, over an in-memory key service (memory-backend.ts):
// batch order, the three Batch Error Continuation Options (KMIP 1.4 §6.14),
// the ID Placeholder (§4 introduction), Maximum Response Size (§6.3),
// per-item decode failures, reasons per protocol version, and the operation
// table the Dispatcher derives from the operation definitions.
import pino from 'pino';
import {
  BatchErrorContinuationOption, CryptographicAlgorithm, ItemType, ObjectType, Operation, ProtocolVersion, RequestBatchItem,
  ResponseMessage, ResultReason, ResultStatus, Tag, TtlvNode, attr, decodeResponse, decodeTtlv, dumpTtlv, encodeRequestTree,
  encodeTtlv, getAttributes as getAttributesCodec, request,
} from '@keywarden/kmip';
import { grpc } from '@keywarden/common';
import { Dispatcher, Identity, OPERATIONS, defineOperation, operationTable } from '@keywarden/kmip-gateway';
import { MemoryBackend, lifecycleError, memoryBackend } from './memory-backend';

const V11 = { major: 1, minor: 1 };
const V14 = { major: 1, minor: 4 };
const V20 = { major: 2, minor: 0 };
const ME: Identity = { ok: true, caller: { certFingerprint: 'ab'.repeat(32) } };

const aes = [
  attr.enumeration('Cryptographic Algorithm', CryptographicAlgorithm.AES), attr.integer('Cryptographic Length', 256),
  attr.integer('Cryptographic Usage Mask', 12),
];
const createItem = (extra: RequestBatchItem['payload'] = {}): RequestBatchItem => ({ operation: Operation.Create, payload: { objectType: ObjectType.SymmetricKey, attributes: aes, ...extra } });
const getItem = (uid?: string): RequestBatchItem => ({ operation: Operation.Get, payload: { uniqueIdentifier: uid } });
const id = (n: number) => Buffer.from([n]);

let backend: MemoryBackend;
let dispatcher: Dispatcher;

beforeEach(() => {
  backend = memoryBackend();
  dispatcher = new Dispatcher({ backend, log: pino({ level: 'silent' }), maxMessageSize: 1 << 20 });
});

/** Sends a request as bytes; the answer decoded, its tree in the error if it does not decode. */
async function send(req: Buffer | ReturnType<typeof request>, d: Dispatcher = dispatcher): Promise<ResponseMessage> {
  const bytes = Buffer.isBuffer(req) ? req : encodeTtlv(encodeRequestTree(req));
  const out = await d.handle(bytes, async () => ME);
  try {
    return decodeResponse(out);
  } catch (e) {
    throw new Error(`the answer does not decode (${(e as Error).message}):\n${dumpTtlv(out)}`);
  }
}

function batch(items: RequestBatchItem[], option?: number, version: ProtocolVersion = V14) {
  const r = request(items.map((it, i) => ({ uniqueBatchItemId: id(i + 1), ...it })), version);
  if (option !== undefined) r.header.batchErrorContinuationOption = option;
  return r;
}

const outcome = (m: ResponseMessage) => m.batchItems.map((it) => [it.uniqueBatchItemId?.[0], it.resultStatus, it.resultReason]);

describe('a batch', () => {
  test('runs its items in order, echoing each Unique Batch Item ID, in the request\'s version', async () => {
    const r = await send(batch([createItem({}), { operation: Operation.Locate, payload: { attributes: [] } }, createItem({})], undefined, V11));
    expect(r.header.protocolVersion).toEqual(V11);
    expect(outcome(r)).toEqual([[1, ResultStatus.Success, undefined], [2, ResultStatus.Success, undefined], [3, ResultStatus.Success, undefined]]);
    const [first, , third] = r.batchItems.map((it) => it.payload?.uniqueIdentifier as string | undefined);
    // Locate ran between the two Creates: it saw the first key only.
    expect(r.batchItems[1].payload.uniqueIdentifiers).toEqual([first]);
    expect(backend.journal.map(([m]) => m)).toEqual(['create', 'locate', 'create']);
    expect(backend.journal[2][1]).toBe(third);
  });

  test('Stop (the default): items after a failure are neither run nor answered', async () => {
    const r = await send(batch([createItem(), getItem('missing'), createItem()]));
    expect(outcome(r)).toEqual([[1, ResultStatus.Success, undefined], [2, ResultStatus.OperationFailed, ResultReason.ItemNotFound]]);
    expect(backend.keys.size).toBe(1);
  });

  test('Continue: every item runs and is answered', async () => {
    const r = await send(batch([getItem('missing'), createItem()], BatchErrorContinuationOption.Continue));
    expect(outcome(r)).toEqual([[1, ResultStatus.OperationFailed, ResultReason.ItemNotFound], [2, ResultStatus.Success, undefined]]);
    expect(backend.keys.size).toBe(1);
  });

  test('Undo: a failure compensates the earlier items, newest first, and marks them Operation Undone', async () => {
    const created = (await send(batch([createItem()]))).batchItems[0].payload.uniqueIdentifier as string;
    backend.journal.length = 0;
    const r = await send(batch([
      createItem(),
      { operation: Operation.AddAttribute, payload: { uniqueIdentifier: created, attribute: attr.text('x-Owner', 'ops') } },
      getItem(created),
      getItem('missing'),
      createItem(),
    ], BatchErrorContinuationOption.Undo));
    expect(outcome(r)).toEqual([
      [1, ResultStatus.OperationUndone, undefined], [2, ResultStatus.OperationUndone, undefined], [3, ResultStatus.OperationUndone, undefined],
      [4, ResultStatus.OperationFailed, ResultReason.ItemNotFound],
    ]);
    const made = backend.journal[0][1];
    expect(backend.journal).toEqual([
      ['create', made], ['addAttribute', created], ['get', created], ['get', 'missing'],
      // Compensation, newest first: the added instance deleted, the new key destroyed; the Get needs none.
      ['deleteAttribute', created], ['destroy', made],
    ]);
    expect(backend.keys.get(made)?.destroyed).toBe(true);
    expect(backend.keys.get(created)?.attributes.some((a) => a.name === 'x-Owner')).toBe(false);
  });

  test('Undo: an item whose compensation fails keeps its Success status', async () => {
    backend.failNext('destroy', lifecycleError(grpc.status.UNAVAILABLE, ResultReason.GeneralFailure, 'provider down'));
    const r = await send(batch([createItem(), getItem('missing')], BatchErrorContinuationOption.Undo));
    expect(outcome(r)).toEqual([[1, ResultStatus.Success, undefined], [2, ResultStatus.OperationFailed, ResultReason.ItemNotFound]]);
  });

  test('Undo is refused, before anything runs, for a batch holding an operation that cannot be undone', async () => {
    const r = await send(batch([createItem(), { operation: Operation.Activate, payload: { uniqueIdentifier: 'x' } }], BatchErrorContinuationOption.Undo));
    expect(outcome(r)).toEqual([[1, ResultStatus.OperationFailed, ResultReason.FeatureNotSupported], [2, ResultStatus.OperationFailed, ResultReason.FeatureNotSupported]]);
    expect(r.batchItems[0].resultMessage).toBe('Batch Error Continuation Option Undo is supported only for batches of Create, Register, Add Attribute, Create Key Pair, Derive Key and read-only operations');
    expect(backend.journal).toEqual([]);
  });
});

describe('the ID Placeholder', () => {
  test('an item without a Unique Identifier acts on the object the previous item produced', async () => {
    const r = await send(batch([createItem(), { operation: Operation.Activate, payload: {} }, getItem()]));
    expect(outcome(r).map(([, s]) => s)).toEqual([ResultStatus.Success, ResultStatus.Success, ResultStatus.Success]);
    const uid = r.batchItems[0].payload.uniqueIdentifier;
    expect(backend.journal).toEqual([['create', uid], ['activate', uid], ['get', uid]]);
    expect(r.batchItems[2].payload.object.keyBlock.keyMaterial).toEqual(backend.keys.get(uid)?.material);
  });

  test('is Missing Data when nothing set it, and lives for one batch only', async () => {
    await send(batch([createItem()]));
    const r = await send(batch([getItem()]));
    expect(outcome(r)).toEqual([[1, ResultStatus.OperationFailed, ResultReason.MissingData]]);
    expect(backend.journal.map(([m]) => m)).toEqual(['create']);
  });
});

describe('Maximum Response Size', () => {
  test('an answer larger than the client allows becomes Response Too Large for every item', async () => {
    const uid = (await send(batch([createItem()]))).batchItems[0].payload.uniqueIdentifier as string;
    const req = batch([getItem(uid), { operation: Operation.Check, payload: { uniqueIdentifier: uid } }]);
    const whole = (await send(req)).batchItems;
    expect(whole.map((it) => it.resultStatus)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    req.header.maximumResponseSize = 200;
    const r = await send(req);
    expect(outcome(r)).toEqual([[1, ResultStatus.OperationFailed, ResultReason.ResponseTooLarge], [2, ResultStatus.OperationFailed, ResultReason.ResponseTooLarge]]);
    req.header.maximumResponseSize = 4096;
    expect((await send(req)).batchItems.map((it) => it.resultStatus)).toEqual([ResultStatus.Success, ResultStatus.Success]);
  });
});

describe('per-item decode failures', () => {
  /** A Create, an Add Attribute whose payload lacks its Attribute, and a Locate, as TTLV. */
  function withBrokenItem(option: number): Buffer {
    const tree = encodeTtlv(encodeRequestTree(batch([
      createItem(), { operation: Operation.AddAttribute, payload: { uniqueIdentifier: 'u', attribute: attr.text('x-a', 'v') } },
      { operation: Operation.Locate, payload: { attributes: [] } },
    ], option)));
    const t = decodeTtlv(tree);
    const items = (t.value as TtlvNode[]).filter((n) => n.tag === Tag.BatchItem);
    const payload = (items[1].value as TtlvNode[]).find((n) => n.tag === Tag.RequestPayload) as TtlvNode & { type: typeof ItemType.Structure };
    payload.value = payload.value.filter((n) => n.tag !== Tag.Attribute);
    return encodeTtlv(t);
  }

  test('fail that item alone; Continue runs the rest', async () => {
    const r = await send(withBrokenItem(BatchErrorContinuationOption.Continue));
    expect(outcome(r)).toEqual([[1, ResultStatus.Success, undefined], [2, ResultStatus.OperationFailed, ResultReason.InvalidField], [3, ResultStatus.Success, undefined]]);
    expect(r.batchItems[1].resultMessage).toMatch(/missing Attribute/);
    expect(backend.journal.map(([m]) => m)).toEqual(['create', 'locate']);
  });

  test('stop the batch there under Stop', async () => {
    const r = await send(withBrokenItem(BatchErrorContinuationOption.Stop));
    expect(outcome(r)).toEqual([[1, ResultStatus.Success, undefined], [2, ResultStatus.OperationFailed, ResultReason.InvalidField]]);
  });

  test('malformed TTLV is one Invalid Message answer, in KMIP 1.0', async () => {
    const r = await send(Buffer.from('42007801000000ff', 'hex'));
    expect(r.header.protocolVersion).toEqual({ major: 1, minor: 0 });
    expect(outcome(r)).toEqual([[undefined, ResultStatus.OperationFailed, ResultReason.InvalidMessage]]);
  });
});

describe('Result Reasons per protocol version', () => {
  test('a reason KMIP 1.x lacks reaches a 1.x client as its 1.x counterpart, a 2.x client as raised', async () => {
    const named = () => batch([createItem({ attributes: [...aes, attr.name('disk-1')] })]);
    await send(named());
    expect(outcome(await send(named()))).toEqual([[1, ResultStatus.OperationFailed, ResultReason.IllegalOperation]]);
    const v2 = named();
    v2.header.protocolVersion = V20;
    expect(outcome(await send(v2))).toEqual([[1, ResultStatus.OperationFailed, ResultReason.NonUniqueNameAttribute]]);
  });

  test('Destroy of a destroyed key: Permission Denied in 1.x, Object Destroyed in 2.x; Get: Illegal Operation in 1.x', async () => {
    const uid = (await send(batch([createItem()]))).batchItems[0].payload.uniqueIdentifier as string;
    await send(batch([{ operation: Operation.Destroy, payload: { uniqueIdentifier: uid } }]));
    const again = (v: ProtocolVersion) => send(batch([{ operation: Operation.Destroy, payload: { uniqueIdentifier: uid } }, getItem(uid)], BatchErrorContinuationOption.Continue, v));
    expect(outcome(await again(V14)).map(([, , r]) => r)).toEqual([ResultReason.PermissionDenied, ResultReason.IllegalOperation]);
    expect(outcome(await again(V20)).map(([, , r]) => r)).toEqual([ResultReason.ObjectDestroyed, ResultReason.ObjectDestroyed]);
  });
});

describe('the operation table', () => {
  test('Query reports the operations the table holds', async () => {
    const r = await send(batch([{ operation: Operation.Query, payload: { queryFunctions: [1] } }]));
    expect(r.batchItems[0].payload.operations).toEqual([...OPERATIONS.keys()].sort((a, b) => a - b));
  });

  test('an operation without a definition is Operation Not Supported', async () => {
    const only = operationTable([OPERATIONS.get(Operation.Create)!]);
    const d = new Dispatcher({ backend, log: pino({ level: 'silent' }), maxMessageSize: 1 << 20, operations: only });
    const r = await send(batch([getItem('x')]), d);
    expect([r.batchItems[0].resultReason, r.batchItems[0].resultMessage]).toEqual([ResultReason.OperationNotSupported, 'Get is not supported']);
    expect(backend.journal).toEqual([]);
  });

  test('refuses two definitions of one operation, and one not decoded with the codec it names', () => {
    const get = OPERATIONS.get(Operation.Get)!;
    expect(() => operationTable([get, get])).toThrow(/defined twice/);
    const lying = defineOperation({ codec: { ...getAttributesCodec }, readOnly: true, handle: async () => ({ uniqueIdentifier: 'x', attributes: [] }) });
    expect(() => operationTable([lying])).toThrow(/codec/);
  });
});
