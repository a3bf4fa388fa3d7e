// Seal and unseal rates through the crk-wrapping gRPC service (its own
// process, mTLS) next to direct provider calls in this process, in the same
// run against the same providers: the ratio is the cost of the service layer.
//
//   npm run bench -w services/crk-wrapping
// BENCH_SECONDS, BENCH_CONCURRENCY; BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof") for the service process.
//
// Key Protect is the keyprotect-emulator (its own process); PKCS#11 is SoftHSM2.

import { ChildProcess, execFileSync, spawn } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createCa, createLogger, internalIdentity, issueCertificate, prom, writeIssued } from '@keywarden/common';
import { wrappingV1 } from '@keywarden/proto';
import { DEFAULT_RESILIENCE, ProviderRegistry, WrapProvider, WrappingMetrics } from '@keywarden/crk-wrapping';
import { channelCredentials, grpc, loadTlsFiles } from '@keywarden/common';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const API_KEY = 'bench-api-key';
const PIN = '98765432';

/** Starts a node script and resolves with the first stdout line matching `ready`. */
function start(script: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, nodeArgs: string[] = []): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(ready);
      if (m) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ child, match: m });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${path.basename(script)} exited with ${code}`)));
  });
}

/** Runs op with CONCURRENCY callers for SECONDS; returns completed operations per second. */
async function rate(op: (i: number) => Promise<unknown>): Promise<number> {
  const warmEnd = Date.now() + 300;
  while (Date.now() < warmEnd) await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => op(i)));
  let done = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    for (let i = w; Date.now() < end; i += CONCURRENCY) {
      try {
        await op(i);
        done++;
      } catch (e) {
        if (errors++ === 0) console.error('bench error:', (e as Error).message);
      }
    }
  }));
  if (errors) throw new Error(`${errors} operations failed`);
  return done / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function unary<Req, Res>(client: grpc.Client, method: (req: Req, md: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => grpc.ClientUnaryCall, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r))));
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-bench-'));
  const children: ChildProcess[] = [];
  try {
    // SoftHSM2 token for this run (this process and the service read SOFTHSM2_CONF).
    fs.mkdirSync(path.join(work, 'tokens'));
    const conf = path.join(work, 'softhsm2.conf');
    fs.writeFileSync(conf, `directories.tokendir = ${path.join(work, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    process.env.SOFTHSM2_CONF = conf;
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', '0000', '--pin', PIN], { stdio: 'ignore' });

    // mTLS material for the service and this client.
    const ca = createCa('bench CA');
    writeIssued(work, 'ca', ca);
    writeIssued(work, 'crk-wrapping', issueCertificate(ca, internalIdentity('crk-wrapping')));
    writeIssued(work, 'key-lifecycle', issueCertificate(ca, internalIdentity('key-lifecycle', { usage: 'client' })));

    const emuMain = require.resolve('@keywarden/keyprotect-emulator/dist/main.js');
    const emu = await start(emuMain, ['--port', '0', '--api-key', API_KEY], process.env, /listening on (http:\/\/\S+)/);
    children.push(emu.child);
    const emuUrl = emu.match[1];

    const masterKey = randomBytes(32);
    const svcMain = require.resolve('@keywarden/crk-wrapping/dist/main.js');
    const svc = await start(svcMain, [], {
      ...process.env, WRAPPING_ADDR: '127.0.0.1:0', WRAPPING_TLS_DIR: work, KEYWARDEN_MASTER_KEY: masterKey.toString('base64'), METRICS_PORT: '0', LOG_LEVEL: 'info',
      WRAPPING_PROVIDER_HOSTS: new URL(emuUrl).host,
    }, /"port":(\d+)[^\n]*crk-wrapping listening/, (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean));
    children.push(svc.child);
    const client = new wrappingV1.CrkWrappingClient(`localhost:${svc.match[1]}`, channelCredentials(loadTlsFiles(work, 'key-lifecycle')));

    // Direct path: the same adapters, in this process.
    const providers = new ProviderRegistry({
      resilience: DEFAULT_RESILIENCE, log: createLogger('bench', 'silent'), metrics: new WrappingMetrics(new prom.Registry()),
      allowHttp: false, providerHosts: [new URL(emuUrl).host], pkcs11Modules: [SOFTHSM], pkcs11Sessions: 4,
    });

    const instance = randomUUID();
    // The emulator refuses instances nobody created.
    await fetch(`${emuUrl}/_emulator/instances`, { method: 'POST', body: JSON.stringify({ id: instance }) });
    const apiKeyRef = (await unary(client, client.sealCredential, { credential: Buffer.from(API_KEY) })).credentialRef;
    const pinRef = (await unary(client, client.sealCredential, { credential: Buffer.from(PIN) })).credentialRef;
    const targets: Array<{ name: string; provider: wrappingV1.Provider; secret: string }> = [
      { name: 'keyprotect (emulator)', provider: { kind: wrappingV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emuUrl, iamEndpoint: emuUrl, instanceId: instance, crkId: '', credentialRef: apiKeyRef }, secret: API_KEY },
      { name: 'pkcs11 (SoftHSM2)', provider: { kind: wrappingV1.ProviderKind.PROVIDER_KIND_PKCS11, endpoint: SOFTHSM, iamEndpoint: '', instanceId: 'bench', crkId: '', credentialRef: pinRef }, secret: PIN },
    ];

    console.log(`crk-wrapping bench: ${SECONDS} s per measurement, ${CONCURRENCY} concurrent calls, ${os.cpus().length} CPUs, node ${process.version}`);
    const rows: string[][] = [['provider', 'operation', 'direct ops/s', 'gRPC ops/s', 'gRPC / direct']];
    for (const t of targets) {
      t.provider.crkId = (await unary(client, client.createRootKey, { provider: t.provider, name: `bench-crk-${randomUUID().slice(0, 8)}` })).crkId;
      const p: WrapProvider = providers.get(t.provider);
      const c = () => ({ crkId: t.provider.crkId, credential: t.secret, deadline: Date.now() + 10_000, log: createLogger('bench', 'silent') });
      const ctxs = Array.from({ length: 256 }, () => ({ tenantId: 'bench-tenant', uid: randomUUID() }));
      const refs = await Promise.all(ctxs.map(async (k) => (await p.seal(c(), k, randomBytes(32))).ref));

      const sealDirect = await rate((i) => p.seal(c(), ctxs[i % ctxs.length], randomBytes(32)));
      const sealGrpc = await rate((i) => unary(client, client.generateAndSeal, { provider: t.provider, context: ctxs[i % ctxs.length], algorithm: 3, lengthBits: 256 }));
      const unsealDirect = await rate((i) => p.unseal(c(), ctxs[i % ctxs.length], refs[i % refs.length]));
      const unsealGrpc = await rate((i) => unary(client, client.unseal, { provider: t.provider, context: ctxs[i % ctxs.length], sealedRef: refs[i % refs.length] }));
      rows.push([t.name, 'seal', sealDirect.toFixed(0), sealGrpc.toFixed(0), (sealGrpc / sealDirect).toFixed(2)]);
      rows.push([t.name, 'unseal', unsealDirect.toFixed(0), unsealGrpc.toFixed(0), (unsealGrpc / unsealDirect).toFixed(2)]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
    client.close();
    providers.close();
  } finally {
    for (const ch of children) ch.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
