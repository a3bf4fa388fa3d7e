// One client connection: frames messages off the TLS stream, serves them one
// at a time in arrival order (responses keep request order), and enforces
// the read, idle and queue limits.
import type { TLSSocket } from 'tls';
import type { Logger } from '@keywarden/common';
import { FrameReader, ResultReason, isKmipError } from '@keywarden/kmip';
import { Dispatcher, Identity, messageErrorResponse } from './dispatch';

export interface ConnectionLimits {
  maxMessageSize: number;
  /** A message that has started must complete within this time (slow-loris guard). */
  readTimeoutMs: number;
  /** Close a connection with no traffic for this long. */
  idleTimeoutMs: number;
  /** Messages buffered before reading pauses (backpressure for pipelining clients). */
  maxQueued: number;
}

export class Connection {
  private readonly reader: FrameReader;
  private readonly queue: Buffer[] = [];
  private busy = false;
  private closing = false;
  private readTimer: NodeJS.Timeout | undefined;
  private identity: Identity | undefined;
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>;

  constructor(
    readonly socket: TLSSocket,
    readonly fingerprint: string | undefined,
    private readonly dispatcher: Dispatcher,
    private readonly identify: (fingerprint: string | undefined) => Promise<Identity>,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly onClose: (cause: string) => void,
  ) {
    this.reader = new FrameReader(limits.maxMessageSize);
    let resolveClosed!: () => void;
    this.closed = new Promise((r) => (resolveClosed = r));
    socket.setTimeout(limits.idleTimeoutMs, () => this.destroy('idle'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // Half-close: the client is done sending; answer what is queued, then end.
    socket.on('end', () => { this.closing = true; this.maybeEnd(); });
    socket.on('error', (err) => { this.closeCause ??= 'error'; this.log.debug({ err }, 'connection error'); });
    socket.on('close', () => {
      clearTimeout(this.readTimer);
      this.onClose(this.closeCause ?? 'client');
      resolveClosed();
    });
  }

  private closeCause: string | undefined;

  /** Stops reading new requests; answers in-flight ones, then closes (graceful shutdown). */
  drain(): void {
    this.closing = true;
    this.socket.pause();
    this.maybeEnd();
  }

  destroy(cause: string): void {
    this.closeCause ??= cause;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let msgs: Buffer[];
    try {
      msgs = this.reader.push(chunk);
    } catch (e) {
      // Framing is lost: answer once with Invalid Message (or Response Too Large's
      // request-side twin), then close. Nothing beyond the header was buffered.
      const reason = isKmipError(e) ? e.resultReason : ResultReason.InvalidMessage;
      this.closing = true;
      this.closeCause = 'bad-frame';
      this.socket.pause();
      this.queue.length = 0;
      this.socket.end(messageErrorResponse({ major: 1, minor: 0 }, reason, (e as Error).message));
      return;
    }
    this.armReadTimer();
    if (msgs.length) {
      this.queue.push(...msgs);
      if (this.queue.length >= this.limits.maxQueued) this.socket.pause();
      void this.pump();
    }
  }

  private armReadTimer(): void {
    clearTimeout(this.readTimer);
    this.readTimer = undefined;
    if (this.reader.midMessage) {
      this.readTimer = setTimeout(() => {
        this.log.info({ fingerprint: this.fingerprint }, 'closing a connection that did not complete a message in time');
        this.destroy('read-timeout');
      }, this.limits.readTimeoutMs);
      this.readTimer.unref();
    }
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.socket.destroyed) {
        const msg = this.queue.shift()!;
        const out = await this.dispatcher.handle(msg, () => this.identifyOnce());
        if (this.socket.destroyed) break;
        const flushed = this.socket.write(out);
        if (!flushed) await new Promise<void>((r) => this.socket.once('drain', r));
        if (!this.closing && this.queue.length < this.limits.maxQueued && this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.busy = false;
      this.maybeEnd();
    }
  }

  /** A registered identity is kept for the connection (revocation closes it); a refusal is re-checked per request. */
  private async identifyOnce(): Promise<Identity> {
    if (this.identity?.ok) return this.identity;
    this.identity = await this.identify(this.fingerprint);
    return this.identity;
  }

  private maybeEnd(): void {
    if (this.closing && !this.busy && this.queue.length === 0 && !this.socket.destroyed) this.socket.end();
  }
}
