// Raw KMIP-over-TLS connections for tests that misbehave on purpose: bytes as
// given (no encoding), half-closes, TCP resets, clients that never read.
// Unlike test/lib's KmipClient, every way the connection ends is observable.
import net from 'net';
import tls from 'tls';
import { FrameReader, ResultStatus, decodeResponse, encodeRequest, fromHex, vcenter } from '@keywarden/kmip';

export interface WireOptions {
  port: number;
  ca: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Give up connecting after this long (default 10 s). */
  timeoutMs?: number;
  /** Source address (any 127.x.y.z reaches the gateway on 127.0.0.1 as another source). */
  localAddress?: string;
}

/** Discover Versions as vCenter sends it (KMIP 1.1, 104 bytes): the frame of the bug report. */
export const DV = fromHex(`42007801 00000060 42007701 00000038 42006901 00000020 42006a02 00000004 00000001 00000000
  42006b02 00000004 00000001 00000000 42000d02 00000004 00000001 00000000 42000f01 00000018 42005c05 00000004 0000001e
  00000000 42007901 00000000`);

/** The first 39 bytes of DV with the outer length set to 31: not a multiple of 8, so framing is lost. */
export function oddFrame(): Buffer {
  const b = Buffer.from(DV.subarray(0, 39));
  b.writeUInt32BE(31, 4);
  return b;
}

/** tls.connect honours allowHalfOpen (it is passed on to the socket); @types/node does not list it. */
export type HalfOpenTls = tls.ConnectionOptions & { allowHalfOpen: boolean };

export class WireConn {
  private readonly reader = new FrameReader(16 * 1024 * 1024);
  private readonly frames: Buffer[] = [];
  private readonly waiters = new Set<() => void>();
  /** The server sent its FIN (ended its side). */
  serverEnded = false;
  isClosed = false;
  /** Resolves when the TLS socket has closed, however it ended. */
  readonly closed: Promise<void>;

  private constructor(readonly tcp: net.Socket, readonly socket: tls.TLSSocket) {
    this.closed = new Promise((resolve) => socket.once('close', () => { this.isClosed = true; this.wake(); resolve(); }));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.frames.push(...this.reader.push(chunk));
      } catch {
        socket.destroy();
      }
      this.wake();
    });
    socket.on('end', () => { this.serverEnded = true; this.wake(); });
    // Resets, EPIPE after the server closed: expected in these tests.
    socket.on('error', () => undefined);
    tcp.on('error', () => undefined);
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Waits for the next event on the connection (data, end, close), at most until `end`. */
  private nextEvent(end: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(done, Math.max(0, end - Date.now()));
      function done() {
        clearTimeout(t);
        r();
      }
      this.waiters.add(done);
    });
  }

  /** A TLS connection over a TCP socket of our own (so it can be reset). */
  static open(o: WireOptions): Promise<WireConn> {
    return new Promise((resolve, reject) => {
      const tcp = net.connect({ port: o.port, host: '127.0.0.1', localAddress: o.localAddress, allowHalfOpen: true });
      const fail = (e: Error) => {
        clearTimeout(t);
        s.destroy();
        reject(e);
      };
      tcp.on('error', fail);
      // Half-open, as a client written against a socket API behaves: the server's FIN
      // does not end our side; we may still send (and the server must cope).
      const opts: HalfOpenTls = { socket: tcp, ca: o.ca, cert: o.cert, key: o.key, servername: 'localhost', allowHalfOpen: true };
      const s = tls.connect(opts, () => {
        clearTimeout(t);
        s.off('error', fail);
        s.off('close', closedEarly);
        tcp.off('error', fail);
        resolve(new WireConn(tcp, s));
      });
      const closedEarly = () => fail(new Error('connection closed during the TLS handshake'));
      s.once('error', fail);
      s.once('close', closedEarly);
      const t = setTimeout(() => fail(new Error('TLS connect timed out')), o.timeoutMs ?? 10_000);
    });
  }

  write(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /** The next whole frame from the server; undefined if the connection ended first or nothing came in time. */
  async frame(timeoutMs = 5000): Promise<Buffer | undefined> {
    const end = Date.now() + timeoutMs;
    while (!this.frames.length && !this.isClosed && !this.serverEnded && Date.now() < end) await this.nextEvent(end);
    return this.frames.shift();
  }

  /** Sends one request and waits for its answer. */
  async ask(b: Buffer, timeoutMs = 5000): Promise<Buffer | undefined> {
    this.write(b);
    return this.frame(timeoutMs);
  }

  /** Half-close: no more requests from us. */
  end(): void {
    this.socket.end();
  }

  /** Abrupt close: TCP RST, no TLS close_notify, no FIN. */
  reset(): void {
    this.tcp.resetAndDestroy();
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** True if the server closed the connection within timeoutMs (its FIN or the socket closing). */
  async serverCloses(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.serverEnded && !this.isClosed && Date.now() < end) await this.nextEvent(end);
    return this.serverEnded || this.isClosed;
  }
}

/** True if `frame` is a response whose every batch item succeeded. */
export function isSuccess(frame: Buffer | undefined): boolean {
  if (!frame) return false;
  try {
    return decodeResponse(frame).batchItems.every((i) => i.resultStatus === ResultStatus.Success);
  } catch {
    return false;
  }
}

/** The Result Reason of the first batch item of a response frame. */
export function firstReason(frame: Buffer | undefined): number | undefined {
  return frame ? decodeResponse(frame).batchItems[0]?.resultReason : undefined;
}

/** A clean vCenter Discover Versions with a batch id, encoded. */
export function cleanRequest(id = 1): Buffer {
  return encodeRequest(vcenter.discoverVersions(id));
}

/** Runs tasks with at most `limit` at a time; rejects with the first failure after all settled. */
export async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        out[i] = await tasks[i]();
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure !== undefined) throw failure;
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with `value` after ms, without keeping the process alive (for races against a bound). */
export const after = <T>(ms: number, value: T): Promise<T> => new Promise((r) => setTimeout(() => r(value), ms).unref());

/** Polls `check` until it returns true or timeoutMs passes; returns its last result. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
}
