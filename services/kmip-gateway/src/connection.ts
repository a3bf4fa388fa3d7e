// One client connection: frames messages off the TLS stream, serves them one
// at a time in arrival order (responses keep request order), and enforces
// the read, idle, queue and linger limits.
//
// How a connection ends, and why each way releases the socket: the server
// runs half-open (a client that half-closes still gets its answers), so a
// socket is destroyed only when both sides have ended, or by destroy().
// Whenever the gateway ends its side it therefore keeps reading (and
// discards what arrives), so the client's FIN is seen, and destroys the
// socket after `lingerMs` if the client never closes. A paused stream never
// sees its end: reading is paused only for back-pressure, never while closing.
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
  /** After the gateway ended its side, the client has this long to close its own before the socket is destroyed. */
  lingerMs: number;
  /**
   * A connection not yet known to come from a registered certificate is
   * identified after this long and closed if the certificate is not
   * registered (0: never). One identify call, and only for connections that
   * sent no request before it: a request identifies the connection anyway.
   */
  unregisteredTimeoutMs: number;
}

export class Connection {
  private readonly reader: FrameReader;
  private readonly queue: Buffer[] = [];
  private busy = false;
  /** No new requests are read: the client half-closed, framing was lost, the client was refused, or shutdown. */
  private closing = false;
  /** The gateway has ended its side of the stream. */
  private ended = false;
  /** Sent last, before the gateway ends its side (the Invalid Message answer after framing was lost). */
  private finalAnswer: Buffer | undefined;
  private readTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private unregisteredTimer: NodeJS.Timeout | undefined;
  private identity: Identity | undefined;
  private identifying: Promise<Identity> | undefined;
  private closeCause: string | undefined;
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
    // A message it left incomplete will not complete: no read timeout for it.
    socket.on('end', () => { this.stopReading(); this.maybeEnd(); });
    socket.on('error', (err) => { this.closeCause ??= 'error'; this.log.debug({ err }, 'connection error'); });
    socket.on('close', () => {
      clearTimeout(this.readTimer);
      clearTimeout(this.lingerTimer);
      clearTimeout(this.unregisteredTimer);
      this.queue.length = 0;
      this.onClose(this.closeCause ?? 'client');
      resolveClosed();
    });
    if (limits.unregisteredTimeoutMs > 0) {
      this.unregisteredTimer = setTimeout(() => this.closeIfUnregistered(), limits.unregisteredTimeoutMs);
      this.unregisteredTimer.unref();
    }
  }

  /** Stops reading new requests; answers the ones already read, then ends (graceful shutdown). */
  drain(): void {
    this.closeCause ??= 'shutdown';
    this.stopReading();
    this.maybeEnd();
  }

  destroy(cause: string): void {
    this.closeCause ??= cause;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    // After the gateway stopped reading requests, input is read and dropped:
    // reading on is what lets the client's FIN (and so the close) arrive.
    if (this.closing) return;
    let msgs: Buffer[];
    try {
      msgs = this.reader.push(chunk);
    } catch (e) {
      // Framing is lost: the request being served (and any queued) is answered
      // first, then comes Invalid Message (or Response Too Large's
      // request-side twin), then the gateway ends the connection.
      const reason = isKmipError(e) ? e.resultReason : ResultReason.InvalidMessage;
      this.closeCause ??= 'bad-frame';
      this.finalAnswer = messageErrorResponse({ major: 1, minor: 0 }, reason, (e as Error).message);
      this.stopReading();
      this.maybeEnd();
      return;
    }
    this.armReadTimer();
    if (msgs.length) {
      this.queue.push(...msgs);
      if (this.queue.length >= this.limits.maxQueued) this.socket.pause();
      void this.pump();
    }
  }

  /** No more requests: from now on input is discarded, and reading resumes so the client's end is seen. */
  private stopReading(): void {
    this.closing = true;
    clearTimeout(this.readTimer);
    this.readTimer = undefined;
    if (this.socket.isPaused()) this.socket.resume();
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
        if (!this.socket.write(out)) await this.writable();
        if (this.refused()) {
          // An unregistered certificate has had its Permission Denied answer: nothing more to do here.
          this.log.debug({ fingerprint: this.fingerprint }, 'closing the connection of an unregistered client certificate');
          this.closeCause ??= 'unregistered';
          this.queue.length = 0;
          this.stopReading();
          break;
        }
        if (this.queue.length < this.limits.maxQueued && this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.busy = false;
      this.maybeEnd();
    }
  }

  /** Resolves when the socket can take more writes, or has closed (a destroyed socket never emits 'drain'). */
  private writable(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /**
   * A registered identity is kept for the connection (revocation closes it); a
   * refusal is re-checked per request. Concurrent callers share one call.
   */
  private identifyOnce(): Promise<Identity> {
    if (this.identity?.ok) return Promise.resolve(this.identity);
    this.identifying ??= this.identify(this.fingerprint).then((id) => {
      this.identity = id;
      if (id.ok) {
        clearTimeout(this.unregisteredTimer);
        this.unregisteredTimer = undefined;
      }
      return id;
    }).finally(() => {
      this.identifying = undefined;
    });
    return this.identifying;
  }

  /** True when the certificate was found not registered (not when the key service could not tell). */
  private refused(): boolean {
    return this.identity !== undefined && !this.identity.ok && this.identity.reason === ResultReason.PermissionDenied;
  }

  /** The unregistered-certificate timeout: identify a connection that has not been, and close it if refused. */
  private closeIfUnregistered(): void {
    this.unregisteredTimer = undefined;
    // A request in hand is identified by the dispatcher; pump closes the connection after its answer.
    if (this.identity?.ok || this.closing || this.busy || this.socket.destroyed) return;
    this.identifyOnce().then(() => {
      if (!this.refused() || this.busy || this.socket.destroyed) return;
      this.log.debug({ fingerprint: this.fingerprint }, 'closing a silent connection of an unregistered client certificate');
      this.destroy('unregistered');
    }, () => undefined);
  }

  private maybeEnd(): void {
    if (!this.closing || this.busy || this.queue.length || this.ended || this.socket.destroyed) return;
    this.ended = true;
    if (this.finalAnswer) this.socket.end(this.finalAnswer);
    else this.socket.end();
    this.finalAnswer = undefined;
    // The client had its answers; if it does not close its side in time, the socket goes anyway.
    this.lingerTimer = setTimeout(() => this.destroy(this.closeCause ?? 'linger'), this.limits.lingerMs);
    this.lingerTimer.unref();
  }
}
