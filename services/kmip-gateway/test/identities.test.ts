// The gateway's identity cache (withIdentityCache, docs/kmip-gateway.md
// "Identity and trust"): a second connection of a certificate key-lifecycle
// has confirmed makes no Identify call; removing the certificate drops it at
// once (open connections closed, the next one refused); after the revocation
// stream broke and resumed nothing cached is used; refusals are never kept.
// Real key-lifecycle (its Identify count read from its metrics), Redis,
// emulator, crk-wrapping, mTLS. The last tests drive the wrapper over a
// hand-made backend for orderings that real services cannot be made to
// produce on demand.
import { certFingerprint, issueCertificate } from '@keywarden/common';
import { ResultReason, ResultStatus, vcenter } from '@keywarden/kmip';
import { KeyLifecycle, startKeyLifecycle } from '@keywarden/key-lifecycle';
import { Gateway, LifecycleBackend, grpcLifecycleBackend, startGateway, withIdentityCache } from '@keywarden/kmip-gateway';
import { lifecycleV1 } from '@keywarden/proto';
import { KmipClient, TestStack, TestTenant, startStack } from '../../../test/lib';

jest.setTimeout(60_000);

let stack: TestStack;

beforeAll(async () => { stack = await startStack(); }, 60_000);
afterAll(async () => { await stack?.close(); }, 30_000);

const replicaAt = (port: number) => startKeyLifecycle({
  address: `127.0.0.1:${port}`, tls: stack.pki.lifecycle, redisUrl: stack.redis.url,
  wrappingAddress: `localhost:${stack.wrappingPort}`, wrappingTls: stack.pki.lifecycle, metricsPort: 0, metricsHost: '127.0.0.1',
});

async function identifyCalls(lc: KeyLifecycle): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${lc.metricsPort}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^keywarden_lifecycle_operations_total\{([^}]*)\} (\S+)$/gm)) if (m[1].includes('op="Identify"')) n += Number(m[2]);
  return n;
}

interface Front { gw: Gateway; backend: LifecycleBackend }

async function front(lc: KeyLifecycle): Promise<Front> {
  const backend = withIdentityCache(grpcLifecycleBackend({ address: `127.0.0.1:${lc.port}`, tls: stack.pki.gateway }));
  const gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend });
  return { gw, backend };
}

const connect = (f: Front, t: { client: { cert: string; key: string } }) =>
  KmipClient.connect({ port: f.gw.port, ca: stack.pki.ca.cert, cert: t.client.cert, key: t.client.key });

/** One connection, one request, closed; the first item's result. */
async function visit(f: Front, t: TestTenant | { client: { cert: string; key: string } }) {
  const c = await connect(f, t);
  try {
    return (await c.send(vcenter.discoverVersions())).batchItems[0];
  } finally {
    await c.close();
  }
}

/** Visits until a visit succeeds without an Identify call: the revocation stream is live and the certificate cached. */
async function warm(f: Front, lc: KeyLifecycle, t: TestTenant): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const before = await identifyCalls(lc);
    const ok = (await visit(f, t)).resultStatus === ResultStatus.Success;
    if (ok && (await identifyCalls(lc)) === before) return;
    if (Date.now() > end) throw new Error('every connection still asks key-lifecycle');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a known certificate\'s new connections make no Identify call; removing it drops it and closes its connections', async () => {
  const lc = await replicaAt(0);
  const f = await front(lc);
  const t = await stack.createTenant();
  try {
    await warm(f, lc, t);
    const before = await identifyCalls(lc);
    for (let i = 0; i < 3; i++) expect((await visit(f, t)).resultStatus).toBe(ResultStatus.Success);
    expect(await identifyCalls(lc)).toBe(before);

    const open = await connect(f, t);
    expect((await open.send(vcenter.discoverVersions())).batchItems[0].resultStatus).toBe(ResultStatus.Success);
    const closed = new Promise<number>((r) => open.socket.once('close', () => r(Date.now())));
    const removedAt = Date.now();
    await stack.adminCall('removeCertificate', { fingerprint: certFingerprint(t.client.cert) });
    expect((await closed) - removedAt).toBeLessThan(2000);
    // The next connection is asked about again, and refused.
    const refused = await visit(f, t);
    expect(refused.resultStatus).toBe(ResultStatus.OperationFailed);
    expect(refused.resultReason).toBe(ResultReason.PermissionDenied);
    expect(await identifyCalls(lc)).toBe(before + 1);
  } finally {
    await f.gw.close(500);
    f.backend.close();
    await lc.close();
  }
});

test('refusals are not kept: an unregistered certificate is asked about on every connection', async () => {
  const lc = await replicaAt(0);
  const f = await front(lc);
  const t = await stack.createTenant();
  const stranger = { client: issueCertificate(null, { commonName: 'stranger', usage: 'client' }) };
  try {
    await warm(f, lc, t);
    const before = await identifyCalls(lc);
    for (let i = 0; i < 3; i++) expect((await visit(f, stranger)).resultReason).toBe(ResultReason.PermissionDenied);
    expect(await identifyCalls(lc)).toBe(before + 3);
  } finally {
    await f.gw.close(500);
    f.backend.close();
    await lc.close();
  }
});

test('after the revocation stream broke and resumed, nothing cached before is used (a certificate removed meanwhile is refused)', async () => {
  let lc = await replicaAt(0);
  const port = lc.port;
  // The gateway's backend, with the revocation stream's state in sight of the test.
  const base = grpcLifecycleBackend({ address: `127.0.0.1:${port}`, tls: stack.pki.gateway });
  const live: boolean[] = [];
  const observed: LifecycleBackend = {
    ...base,
    watchAccessRevocations: (onRevoked, onResumed, onLive) => base.watchAccessRevocations(onRevoked, onResumed, (l) => { live.push(l); onLive?.(l); }),
  };
  const f: Front = { backend: withIdentityCache(observed), gw: undefined as unknown as Gateway };
  f.gw = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend: f.backend });
  const [kept, removed] = [await stack.createTenant(), await stack.createTenant()];
  try {
    await warm(f, lc, kept);
    await warm(f, lc, removed);
    await lc.close(); // the stream breaks (a replica restarting)
    await until(() => live.at(-1) === false);
    await stack.adminCall('removeCertificate', { fingerprint: certFingerprint(removed.client.cert) }); // a notice the gateway misses
    lc = await replicaAt(port); // same address: the stream comes back
    await until(() => live.at(-1) === true);
    const before = await identifyCalls(lc);
    expect((await visit(f, kept)).resultStatus).toBe(ResultStatus.Success);
    expect(await identifyCalls(lc)).toBe(before + 1);
    expect((await visit(f, removed)).resultReason).toBe(ResultReason.PermissionDenied);
    expect(await identifyCalls(lc)).toBe(before + 2);
    // Cached again from here on.
    expect((await visit(f, kept)).resultStatus).toBe(ResultStatus.Success);
    expect(await identifyCalls(lc)).toBe(before + 2);
  } finally {
    await f.gw.close(500);
    f.backend.close();
    await lc.close();
  }
});

async function until(ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('withIdentityCache over a hand-made backend', () => {
  /** A backend whose identify answers when told to, and whose revocation stream the test drives. */
  function fake() {
    const calls: string[] = [];
    const pending: Array<() => void> = [];
    let listeners: { revoked: (fp: string) => void; resumed?: () => void; live?: (l: boolean) => void } | undefined;
    const backend = {
      identify: (r: lifecycleV1.IdentifyRequest) => {
        calls.push(r.caller!.certFingerprint);
        return new Promise<lifecycleV1.IdentifyResponse>((resolve) => pending.push(() => resolve({ tenantId: 't' })));
      },
      watchAccessRevocations: (revoked: (fp: string) => void, resumed?: () => void, live?: (l: boolean) => void) => {
        listeners = { revoked, resumed, live };
        return () => { listeners = undefined; };
      },
    } as unknown as LifecycleBackend;
    const answerAll = () => { for (const p of pending.splice(0)) p(); };
    return { backend, calls, answerAll, stream: () => listeners! };
  }
  const ask = (b: LifecycleBackend, fp: string) => b.identify({ caller: { certFingerprint: fp } });

  test('nothing is kept until the revocation stream is live, and nothing while it is broken', async () => {
    const x = fake();
    const b = withIdentityCache(x.backend);
    const now = (fp: string) => { const p = ask(b, fp); x.answerAll(); return p; };
    const stop = b.watchAccessRevocations(() => undefined);
    await now('a');
    await now('a');
    expect(x.calls).toEqual(['a', 'a']);
    x.stream().live!(true);
    await now('a');
    await now('a');
    expect(x.calls).toEqual(['a', 'a', 'a']);
    x.stream().live!(false);
    await now('a');
    expect(x.calls).toHaveLength(4);
    stop();
  });

  test('an answer on its way while a revocation arrives is not kept; the least recently used goes first; a resume empties it', async () => {
    const x = fake();
    const b = withIdentityCache(x.backend, { maxEntries: 2 });
    const now = (fp: string) => { const p = ask(b, fp); x.answerAll(); return p; };
    const revoked: string[] = [];
    b.watchAccessRevocations((fp) => revoked.push(fp));
    x.stream().live!(true);
    const racing = ask(b, 'a');
    x.stream().revoked('other');
    x.answerAll();
    await racing;
    expect(revoked).toEqual(['other']);
    await now('a'); // asked again: the racing answer was not kept
    await now('a'); // kept now
    expect(x.calls).toEqual(['a', 'a']);
    await now('b');
    await now('a'); // a is now the most recently used
    await now('c'); // b goes
    await now('a');
    await now('c');
    expect(x.calls).toEqual(['a', 'a', 'b', 'c']);
    await now('b');
    expect(x.calls).toEqual(['a', 'a', 'b', 'c', 'b']);
    x.stream().revoked('b');
    await now('b');
    expect(x.calls).toHaveLength(6);
    x.stream().resumed!();
    await now('b');
    await now('c');
    expect(x.calls).toEqual(['a', 'a', 'b', 'c', 'b', 'b', 'b', 'c']);
  });
});
