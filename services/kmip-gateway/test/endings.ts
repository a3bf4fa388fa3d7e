// Ways a KMIP connection can end, as clients (well-behaved, broken and
// hostile) end them: each opens one connection to the gateway, ends it its
// way and returns once the client's socket is gone. Used by the churn test to
// check that none of them leaves anything behind in the gateway.
import net from 'net';
import { ResultReason } from '@keywarden/kmip';
import { DV, WireConn, cleanRequest, firstReason, isSuccess, oddFrame, sleep } from './wire';

export interface EndingTarget {
  port: number;
  ca: Buffer | string;
  /** A registered client certificate. */
  cert: Buffer | string;
  key: Buffer | string;
  /** A certificate no tenant has registered. */
  strangerCert: Buffer | string;
  strangerKey: Buffer | string;
  /** Registers a new client certificate; remove() takes it away again (revocation). */
  throwawayClient(): Promise<{ cert: string; key: string; remove(): Promise<void> }>;
}

/** How each connection ends; each returns with the client's socket gone. `seen` records what the client observed. */
export type Ending = (seen: string[]) => Promise<void>;

async function finish(c: WireConn, waitMs: number, seen: string[], label: string): Promise<void> {
  seen.push(`${label}:${(await c.serverCloses(waitMs)) ? 'server-closed' : 'still-open'}`);
  c.destroy();
  await c.closed;
}

export function connectionEndings(t: EndingTarget): Record<string, Ending> {
  const registered = () => WireConn.open({ port: t.port, ca: t.ca, cert: t.cert, key: t.key });
  const unregistered = () => WireConn.open({ port: t.port, ca: t.ca, cert: t.strangerCert, key: t.strangerKey });
  return {
    // The reported sequence: a length that is not a multiple of 8, read the answer, any request, close.
    'odd length, answer, request, close': async (seen) => {
      const c = await registered();
      seen.push(`odd:${firstReason(await c.ask(oddFrame())) === ResultReason.InvalidMessage ? 'invalid-message' : 'other'}`);
      c.write(DV);
      c.end();
      await finish(c, 3000, seen, 'odd');
    },
    'garbage, close at once': async () => {
      const c = await registered();
      c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      c.destroy();
      await c.closed;
    },
    'garbage, keep sending, never close': async (seen) => {
      const c = await registered();
      await c.ask(Buffer.from('13370001020304050607', 'hex'));
      // The gateway ends its side at once; it must then drop the socket (linger bound)
      // although the client keeps it open: our next write then meets a reset.
      const spam = setInterval(() => c.write(DV), 20);
      try {
        const end = Date.now() + 6000;
        while (!c.isClosed && Date.now() < end) await sleep(50);
        seen.push(`spam:${c.isClosed ? 'server-closed' : 'still-open'}`);
      } finally {
        clearInterval(spam);
        c.destroy();
        await c.closed;
      }
    },
    'truncated frame, half-close': async (seen) => {
      const c = await registered();
      c.write(DV.subarray(0, 50));
      c.end();
      await finish(c, 3000, seen, 'truncated');
    },
    'oversized length header': async (seen) => {
      const c = await registered();
      await c.ask(Buffer.from('420078017ffffff8', 'hex'));
      await finish(c, 3000, seen, 'oversized');
    },
    'idle until the idle timeout': async (seen) => {
      const c = await registered();
      await finish(c, 6000, seen, 'idle');
    },
    'slow-loris': async (seen) => {
      const c = await registered();
      c.write(DV.subarray(0, 20));
      await finish(c, 6000, seen, 'slow-loris');
    },
    'valid traffic, then reset': async (seen) => {
      const c = await registered();
      seen.push(`valid:${isSuccess(await c.ask(cleanRequest(1))) ? 'ok' : 'failed'}`);
      for (let i = 0; i < 4; i++) c.write(cleanRequest(2 + i));
      c.reset();
      await c.closed;
    },
    'pipelined flood, never read, reset': async () => {
      const c = await registered();
      for (let i = 0; i < 64; i++) c.write(cleanRequest(i));
      await sleep(100);
      c.reset();
      await c.closed;
    },
    'pipelined flood, half-close, never read': async () => {
      const c = await registered();
      c.socket.pause();
      for (let i = 0; i < 64; i++) c.write(cleanRequest(i));
      c.end();
      await sleep(500);
      c.destroy();
      await c.closed;
    },
    'valid request, half-close': async (seen) => {
      const c = await registered();
      c.write(cleanRequest(1));
      c.end();
      seen.push(`half-close:${isSuccess(await c.frame()) ? 'answered' : 'unanswered'}`);
      await finish(c, 3000, seen, 'half-close');
    },
    'certificate removed while connected': async (seen) => {
      const id = await t.throwawayClient();
      const c = await WireConn.open({ port: t.port, ca: t.ca, cert: id.cert, key: id.key });
      seen.push(`revoked:${isSuccess(await c.ask(cleanRequest(1))) ? 'served' : 'refused'}`);
      await id.remove();
      await finish(c, 5000, seen, 'revoked');
    },
    'unregistered certificate, one request': async (seen) => {
      const c = await unregistered();
      seen.push(`unregistered:${firstReason(await c.ask(DV)) === ResultReason.PermissionDenied ? 'denied' : 'other'}`);
      await finish(c, 3000, seen, 'unregistered');
    },
    'unregistered certificate, silent': async (seen) => {
      const c = await unregistered();
      await finish(c, 6000, seen, 'unregistered-silent');
    },
    'no client certificate, request': async (seen) => {
      const c = await WireConn.open({ port: t.port, ca: t.ca });
      seen.push(`no-cert:${firstReason(await c.ask(DV)) === ResultReason.PermissionDenied ? 'denied' : 'other'}`);
      await finish(c, 3000, seen, 'no-cert');
    },
    'TCP connect, close': async () => {
      await new Promise<void>((resolve) => {
        const s = net.connect(t.port, '127.0.0.1', () => s.destroy());
        s.on('error', () => undefined);
        s.on('close', () => resolve());
      });
    },
    'TCP connect, no handshake': async () => {
      await new Promise<void>((resolve) => {
        const s = net.connect(t.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 6000).unref();
      });
    },
    'TCP connect, not TLS': async () => {
      await new Promise<void>((resolve) => {
        const s = net.connect(t.port, '127.0.0.1', () => s.write(DV));
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 6000).unref();
      });
    },
  };
}

/** Endings that wait for one of the gateway's timeouts: fewer of them, they take a second or more each. */
export const SLOW_ENDINGS = new Set(['certificate removed while connected', 'idle until the idle timeout', 'slow-loris', 'unregistered certificate, silent', 'TCP connect, no handshake', 'garbage, keep sending, never close']);

