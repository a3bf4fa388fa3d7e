// Benchmark: the CPU cost of one hop of the stack's request path, measured
// alone. A KMIP Get in the default configuration crosses two gRPC unary calls
// (gateway → key-lifecycle → crk-wrapping) and two provider HTTP requests
// (read the standard key, unwrap it with the root key); this prints what each
// of those costs in CPU per call, client and server side, with the same mTLS
// and channel options the services use, and next to it a gRPC bidirectional
// stream carrying the same messages (the alternative to unary calls) as a
// ratio. From the two it prints the CPU floor of the default Get path: what
// the hops alone cost before any KMIP, Redis or cryptographic work. Then the
// gateway's own client of key-lifecycle, a Get with the real messages over
// each transport: unary (one call each) and stream (Relay, the default),
// against key-lifecycle's own Relay framing (serveRelay) answering at once.
//   npm run bench:hops -w test
//   PERF_CALLS (20000 per measurement), PERF_CONCURRENCY (16), PERF_ROUNDS (2)
import { ChildProcess, fork } from 'child_process';
import http from 'http';
import os from 'os';
import { channelCredentials, channelOptions, createLogger, grpc, loadTlsFiles, serverCredentials, serverOptions, unaryCall } from '@keywarden/common';
import { RelayHandlers, serveRelay } from '@keywarden/key-lifecycle';
import { LifecycleBackend, grpcLifecycleBackend } from '@keywarden/kmip-gateway';
import { lifecycleV1 } from '@keywarden/proto';
import { benchPki, envSeconds, machineLine, track } from './proc';
import { median, processCpuSeconds } from './stats';

type Hop = 'grpc-unary' | 'grpc-unary-channel' | 'grpc-stream' | 'http' | 'lifecycle-unary' | 'lifecycle-stream';

const identity = (b: Buffer) => b;
const rawMethod = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path, requestStream, responseStream,
  requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
});
const SERVICE = {
  echo: rawMethod('/keywarden.bench.Hop/Echo', false, false),
  chat: rawMethod('/keywarden.bench.Hop/Chat', true, true),
};

// Shapes of the real messages: a Get request names a caller fingerprint and a uid; the answer carries 32 key bytes and metadata.
const REQUEST = Buffer.alloc(120, 0x61);
const RESPONSE = Buffer.alloc(160, 0x62);
const PROVIDER_BODY = JSON.stringify({ ciphertext: 'A'.repeat(140) });
const PROVIDER_ANSWER = JSON.stringify({ metadata: { collectionType: 'application/vnd.ibm.kms.key_action+json', collectionTotal: 1 }, resources: [{ plaintext: 'B'.repeat(44) }] });
// The gateway's Get as it sends it, and key-lifecycle's answer (an AES-256 key).
const GET: lifecycleV1.GetRequest = { caller: { certFingerprint: 'a1'.repeat(32) }, uniqueIdentifier: '6f1f4a52-2d1e-4f4c-9a43-0f2a1c9e7b55', keyFormatType: 0 };
const GOT: lifecycleV1.GetResponse = {
  uniqueIdentifier: GET.uniqueIdentifier, objectType: 2, keyFormatType: 1, cryptographicAlgorithm: 3, cryptographicLength: 256,
  keyMaterial: Buffer.alloc(32, 0x6b), secretDataType: 0,
};

/** key-lifecycle's service answering Get at once, unary and over Relay (with its real stream framing). */
function lifecycleStub(): lifecycleV1.KeyLifecycleServer {
  const handlers = { get: () => Promise.resolve(GOT) } as unknown as RelayHandlers;
  const log = createLogger('key-lifecycle', 'warn');
  return {
    get: (_call: unknown, cb: grpc.sendUnaryData<lifecycleV1.GetResponse>) => cb(null, GOT),
    relay: (call: grpc.ServerDuplexStream<lifecycleV1.RelayRequest, lifecycleV1.RelayResponse>) => serveRelay(call, handlers, { log }),
  } as unknown as lifecycleV1.KeyLifecycleServer;
}

interface Ports { grpc: number; http: number }

/** The server side of every hop, in its own process as in the stack. */
function serve(pkiDir: string): void {
  const server = new grpc.Server(serverOptions());
  server.addService(lifecycleV1.KeyLifecycleService, lifecycleStub());
  server.addService(SERVICE, {
    echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, RESPONSE),
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(RESPONSE));
      call.on('end', () => call.end());
    },
  });
  const web = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(PROVIDER_ANSWER) });
      res.end(PROVIDER_ANSWER);
    });
  });
  web.keepAliveTimeout = 65_000;
  server.bindAsync('127.0.0.1:0', serverCredentials(loadTlsFiles(pkiDir, 'crk-wrapping')), (err, grpcPort) => {
    if (err) throw err;
    web.listen(0, '127.0.0.1', () => process.send!({ grpc: grpcPort, http: (web.address() as { port: number }).port }));
  });
  process.on('disconnect', () => process.exit(0));
}

class Client {
  private readonly grpc: grpc.Client;
  private stream?: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private closing = false;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
  /** The gateway's client of key-lifecycle, one per transport. */
  private readonly lifecycle: Record<'lifecycle-unary' | 'lifecycle-stream', LifecycleBackend>;

  constructor(pkiDir: string, private readonly ports: Ports) {
    const Ctor = grpc.makeGenericClientConstructor(SERVICE, 'Hop');
    this.grpc = new Ctor(`localhost:${ports.grpc}`, channelCredentials(loadTlsFiles(pkiDir, 'key-lifecycle')), channelOptions());
    const gateway = (transport: 'unary' | 'stream') =>
      grpcLifecycleBackend({ address: `localhost:${ports.grpc}`, tls: loadTlsFiles(pkiDir, 'kmip-gateway'), deadlineMs: 10_000, transport });
    this.lifecycle = { 'lifecycle-unary': gateway('unary'), 'lifecycle-stream': gateway('stream') };
  }

  call(hop: Hop): Promise<void> {
    if (hop === 'lifecycle-unary' || hop === 'lifecycle-stream') return this.lifecycle[hop].get(GET).then(() => undefined);
    if (hop === 'grpc-unary') {
      return new Promise((resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        (this.grpc as any).echo(REQUEST, { deadline: Date.now() + 10_000 }, (err: Error | null) => (err ? reject(err) : resolve()));
      });
    }
    if (hop === 'grpc-unary-channel') {
      // How the services call each other: unaryCall straight on the channel, no interceptor layers.
      return unaryCall(this.grpc.getChannel(), SERVICE.echo, REQUEST, 10_000).then(() => undefined);
    }
    if (hop === 'grpc-stream') {
      if (!this.stream) {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        this.stream = (this.grpc as any).chat() as grpc.ClientDuplexStream<Buffer, Buffer>;
        this.stream.on('data', () => this.waiting.shift()?.resolve());
        this.stream.on('error', (e: Error) => {
          if (!this.closing) for (const w of this.waiting.splice(0)) w.reject(e);
        });
      }
      return new Promise((resolve, reject) => {
        this.waiting.push({ resolve, reject });
        this.stream!.write(REQUEST);
      });
    }
    return new Promise((resolve, reject) => {
      const body = Buffer.from(PROVIDER_BODY);
      const req = http.request({
        hostname: '127.0.0.1', port: this.ports.http, path: '/api/v2/keys/6f1f4a52/actions/unwrap', method: 'POST', agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), authorization: `Bearer ${'t'.repeat(900)}`, 'bluemix-instance': 'b1e2' },
      }, (res) => {
        res.on('data', () => undefined);
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.closing = true;
    this.stream?.end();
    this.grpc.close();
    for (const b of Object.values(this.lifecycle)) b.close();
    this.agent.destroy();
  }
}

interface PerCall { client: number; server: number; rate: number }

async function measure(client: Client, child: ChildProcess, hop: Hop, calls: number, concurrency: number): Promise<PerCall> {
  for (let i = 0; i < 2000; i++) await client.call(hop); // warm-up: JIT and connections
  const s0 = processCpuSeconds(child.pid!);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let started = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (started < calls) {
      started++;
      await client.call(hop);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const s1 = processCpuSeconds(child.pid!);
  const us = (cpuSeconds: number) => (cpuSeconds * 1e6) / started;
  return { client: us((c.user + c.system) / 1e6), server: us(s1 - s0), rate: started / seconds };
}

async function main(): Promise<void> {
  console.log('Benchmark: CPU per hop of the request path (gRPC unary with mTLS, gRPC stream message, provider HTTP request)');
  console.log(machineLine());
  const pki = benchPki();
  const child = track(fork(__filename, ['--server', pki.internalDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const ports = await new Promise<Ports>((resolve) => child.once('message', (m: Ports) => resolve(m)));
  const client = new Client(pki.internalDir, ports);
  const calls = envSeconds('PERF_CALLS', 20_000);
  const concurrency = envSeconds('PERF_CONCURRENCY', 16);
  const rounds = envSeconds('PERF_ROUNDS', 2);
  const hops: Hop[] = ['grpc-unary', 'grpc-unary-channel', 'grpc-stream', 'http', 'lifecycle-unary', 'lifecycle-stream'];
  const results = new Map<Hop, PerCall[]>(hops.map((h) => [h, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const hop of r % 2 === 0 ? hops : [...hops].reverse()) {
        const m = await measure(client, child, hop, calls, concurrency);
        results.get(hop)!.push(m);
        console.log(`[round ${r + 1}] ${hop.padEnd(18)} ${Math.round(m.rate).toLocaleString('en-US').padStart(7)} calls/s  CPU per call: client ${m.client.toFixed(1)} µs, server ${m.server.toFixed(1)} µs`);
      }
    }
  } finally {
    client.close();
    child.disconnect();
  }
  const total = (h: Hop) => median(results.get(h)!.map((m) => m.client + m.server));
  const generated = total('grpc-unary');
  const unary = total('grpc-unary-channel');
  const stream = total('grpc-stream');
  const provider = total('http');
  console.log(`\n== Summary (median of ${rounds} rounds, ${concurrency} calls in flight, client + server CPU per call)`);
  console.log(`gRPC unary call, generated client method (mTLS) ${generated.toFixed(0).padStart(5)} µs`);
  console.log(`gRPC unary call, unaryCall on the channel (mTLS, as the services call) ${unary.toFixed(0).padStart(5)} µs   ratio to the generated method ${(unary / generated).toFixed(2)}x`);
  console.log(`gRPC stream message (mTLS)   ${stream.toFixed(0).padStart(5)} µs   ratio to the unary call on the channel ${(stream / unary).toFixed(2)}x`);
  console.log(`provider HTTP request        ${provider.toFixed(0).padStart(5)} µs`);
  const floor = 2 * unary + 2 * provider;
  const cores = os.cpus().length;
  console.log(`Default Get path, hops only (2 unary calls + 2 provider requests): ${floor.toFixed(0)} µs of CPU per Get,` +
    ` i.e. at most ${Math.round((cores * 1e6) / floor).toLocaleString('en-US')} Gets/s on ${cores} cores before any KMIP, Redis, audit or crypto work`);
  console.log(`Same path with streams between the services:                        ${(2 * stream + 2 * provider).toFixed(0)} µs`);
  const gwUnary = total('lifecycle-unary');
  const gwStream = total('lifecycle-stream');
  console.log(`kmip-gateway → key-lifecycle Get, unary transport (LIFECYCLE_TRANSPORT=unary) ${gwUnary.toFixed(0).padStart(5)} µs`);
  console.log(`kmip-gateway → key-lifecycle Get, stream transport (Relay, the default)      ${gwStream.toFixed(0).padStart(5)} µs   ratio to unary ${(gwStream / gwUnary).toFixed(2)}x`);
}

if (process.argv[2] === '--server') {
  serve(process.argv[3]);
} else {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
}
