// Server processes for the benchmarks, each started by bench code through
// child_process.fork (see proc.ts) and told its settings in the environment:
//   node test/dist/perf/server.js stub-gateway|echo|canned
//   PERF_PKI   directory with server.crt / server.key (ensureDevPki layout)
//   PERF_PORT  (0: any free port)   PERF_HOST (127.0.0.1)
// stub-gateway: the real kmip-gateway (startGateway) over stubBackend().
// echo:   a bare Node TLS server, same certificate and TLS settings as the
//         gateway, that frames KMIP messages and sends each one back.
// canned: the same bare TLS server answering each request with the bytes the
//         gateway answers it with (made once at start by the gateway's own
//         Dispatcher over the stub backend), batch item id patched in.
// Over IPC: sends {type:'listening', port}; answers {type:'mem'} with
// process.memoryUsage() after a garbage collection when --expose-gc is on.
import fs from 'fs';
import net from 'net';
import path from 'path';
import tls from 'tls';
import { createLogger } from '@keywarden/common';
import { FrameReader } from '@keywarden/kmip';
import { DEFAULT_CIPHERS, Dispatcher, startGateway } from '@keywarden/kmip-gateway';
import { requestTemplate } from './messages';
import { stubBackend } from './stub-backend';

const OPERATION = Buffer.from([0x42, 0x00, 0x5c, 0x05, 0x00, 0x00, 0x00, 0x04]);

/** TLS settings identical to startGateway's defaults in fingerprint trust mode. */
export function bareTlsOptions(cert: Buffer, key: Buffer): tls.TlsOptions {
  return {
    cert, key, requestCert: true, rejectUnauthorized: false, ciphers: DEFAULT_CIPHERS, honorCipherOrder: true,
    minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', handshakeTimeout: 10_000, allowHalfOpen: true,
  };
}

type Answer = (req: Buffer) => Buffer;

/** Responses the gateway gives (over the stub backend) to the benchmark's requests, keyed by operation. */
async function cannedAnswers(): Promise<Answer> {
  const dispatcher = new Dispatcher({ backend: stubBackend(), log: createLogger('canned', 'silent'), maxMessageSize: 1024 * 1024 });
  const byOp = new Map<number, { bytes: Buffer; idAt: number }>();
  for (const op of ['discover', 'get', 'create'] as const) {
    const req = requestTemplate(op).make(0);
    const res = await dispatcher.handle(req, async () => ({ ok: true, caller: { certFingerprint: 'canned' } }));
    const code = req.readUInt32BE(req.indexOf(OPERATION) + 8);
    byOp.set(code, { bytes: res, idAt: res.indexOf('QLKC') });
  }
  return (req) => {
    const at = req.indexOf(OPERATION);
    const canned = at >= 0 ? byOp.get(req.readUInt32BE(at + 8)) : undefined;
    if (!canned) return req;
    const out = Buffer.from(canned.bytes);
    const id = req.indexOf('QLKC');
    if (id >= 0 && canned.idAt >= 0) req.copy(out, canned.idAt, id, id + 8);
    return out;
  };
}

async function bareServer(cert: Buffer, key: Buffer, port: number, host: string, answer: Answer): Promise<number> {
  const server = tls.createServer(bareTlsOptions(cert, key), (sock) => {
    const reader = new FrameReader(1024 * 1024);
    sock.on('data', (chunk: Buffer) => {
      let msgs: Buffer[];
      try {
        msgs = reader.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const m of msgs) sock.write(answer(m));
    });
    sock.on('end', () => sock.end());
    sock.on('error', () => undefined);
  });
  server.maxConnections = 20_000;
  server.on('connection', (raw: net.Socket) => raw.setNoDelay(true));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

async function main(): Promise<void> {
  const kind = process.argv[2];
  const pki = process.env.PERF_PKI;
  if (!pki) throw new Error('PERF_PKI is required');
  const cert = fs.readFileSync(path.join(pki, 'server.crt'));
  const key = fs.readFileSync(path.join(pki, 'server.key'));
  const port = Number(process.env.PERF_PORT ?? 0);
  const host = process.env.PERF_HOST ?? '127.0.0.1';
  let bound: number;
  if (kind === 'stub-gateway') {
    // Every benchmark client connects from 127.0.0.1: one source, as many connections as the bare server takes.
    const gw = await startGateway({ port, host, cert, key, backend: stubBackend(), maxConnectionsPerSource: 20_000, logger: createLogger('kmip-gateway', process.env.LOG_LEVEL ?? 'warn') });
    bound = gw.port;
  } else if (kind === 'echo') {
    bound = await bareServer(cert, key, port, host, (m) => m);
  } else if (kind === 'canned') {
    bound = await bareServer(cert, key, port, host, await cannedAnswers());
  } else {
    throw new Error('usage: server.js stub-gateway|echo|canned');
  }
  process.on('message', (m: { type: string }) => {
    if (m.type === 'mem') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ type: 'mem', mem: process.memoryUsage() });
    }
  });
  process.on('disconnect', () => process.exit(0));
  // Exit through process.exit so `node --cpu-prof` writes its profile.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
  process.send?.({ type: 'listening', port: bound });
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`perf server: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
