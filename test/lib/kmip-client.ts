// A minimal KMIP client over TLS built on libs/kmip: for tests and the load
// generator (PyKMIP is the independent client; this one is ours).
import tls from 'tls';
import { FrameReader, RequestMessage, ResponseMessage, decodeResponse, dumpTtlv, encodeRequest } from '@keywarden/kmip';

export interface KmipClientOptions {
  host?: string;
  port: number;
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  servername?: string;
  timeoutMs?: number;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
}

export class KmipClient {
  private readonly reader = new FrameReader(16 * 1024 * 1024);
  private waiting: Array<{ resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];
  private error: Error | undefined;
  /** Time from TCP connect start to TLS established, milliseconds. */
  handshakeMs = 0;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.reader.push(chunk)) this.waiting.shift()?.resolve(m);
    });
    const fail = (e: Error) => {
      this.error ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(o: KmipClientOptions): Promise<KmipClient> {
    const t0 = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const s = tls.connect({
        host: o.host ?? '127.0.0.1', port: o.port, ca: o.ca, cert: o.cert, key: o.key,
        servername: o.servername ?? 'localhost', minVersion: o.minVersion, maxVersion: o.maxVersion, ciphers: o.ciphers,
        timeout: o.timeoutMs,
      }, () => {
        s.off('error', reject);
        const c = new KmipClient(s);
        c.handshakeMs = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve(c);
      });
      s.once('error', reject);
    });
  }

  /** Sends raw bytes and resolves with the next framed reply. */
  sendRaw(bytes: Buffer): Promise<Buffer> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(bytes);
    });
  }

  async send(m: RequestMessage): Promise<ResponseMessage> {
    const bytes = await this.sendRaw(encodeRequest(m));
    try {
      return decodeResponse(bytes);
    } catch (e) {
      // A test failing here shows what the server answered, readably.
      throw new Error(`the response does not decode (${(e as Error).message}):\n${dumpTtlv(bytes)}`, { cause: e });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }
}
