import { EventEmitter } from 'events';
import type Redis from 'ioredis';
import type { Logger } from '@keywarden/common';
import type { PlaintextCache } from './cache';
import { channels } from './store/keys';

// Redis pub/sub between key-lifecycle replicas: certificate revocations (to
// every WatchAccessRevocations stream, so each gateway closes the client's
// connections) and key-cache invalidations. While the subscription is down
// (from the moment the connection closes until the channels are subscribed
// again) this replica may be missing invalidations, so its key cache serves
// nothing; it starts again empty.

export interface Revocation {
  fingerprint: string;
  reason: string;
}

const CHANNELS = [channels.revocations, channels.invalidate];

export class Notifications {
  private readonly events = new EventEmitter();
  /** Counts connection losses, so a resubscription overtaken by another loss is not taken for a live one. */
  private cuts = 0;
  private closed = false;

  private constructor(private readonly sub: Redis, private readonly log: Logger, private readonly cache: PlaintextCache) {
    this.events.setMaxListeners(0);
  }

  static async start(sub: Redis, log: Logger, cache: PlaintextCache): Promise<Notifications> {
    const n = new Notifications(sub, log, cache);
    sub.on('message', (channel: string, message: string) => n.onMessage(channel, message));
    await sub.subscribe(...CHANNELS);
    // From the moment the connection is lost the key cache answers nothing.
    sub.on('close', () => n.cut());
    // Any later 'ready' is a reconnection (a Redis restart or failover): what was
    // published meanwhile never reached this replica.
    sub.on('ready', () => void n.resync());
    return n;
  }

  private cut(): void {
    this.cuts++;
    if (this.cache.serving && !this.closed) this.log.warn('Redis subscription lost: the key cache serves nothing until it is back (cache invalidations may be missed)');
    this.cache.suspend();
  }

  /**
   * After a reconnection: ioredis emits 'ready' before it has sent its own
   * SUBSCRIBE again, so subscribe here and wait for Redis to confirm. Then
   * subscribers are told by the end of their streams (a gateway re-checks its
   * open connections) and the key cache starts again, empty.
   */
  private async resync(): Promise<void> {
    const cuts = this.cuts;
    try {
      await this.sub.subscribe(...CHANNELS);
    } catch (err) {
      this.log.warn({ err }, 'resubscribing to Redis notifications failed; the next reconnection tries again');
      return;
    }
    if (cuts !== this.cuts || this.sub.status !== 'ready') return;
    this.log.info('resubscribed to Redis notifications after a disconnection: ending revocation streams so subscribers re-check; the key cache serves again, from empty');
    this.cache.resume();
    this.endStreams();
  }

  onRevocation(listener: (r: Revocation) => void): () => void {
    this.events.on('revoked', listener);
    return () => this.events.off('revoked', listener);
  }

  /**
   * Called when this replica shuts down, or when it may have missed
   * notifications (Redis reconnection): a stream ends then, so its subscriber
   * subscribes again (to another replica when this one is going) and re-checks.
   */
  onEndStreams(listener: () => void): () => void {
    this.events.on('end-streams', listener);
    return () => this.events.off('end-streams', listener);
  }

  /** Ends every subscriber's stream (first step of shutdown; after a Redis reconnection). */
  endStreams(): void {
    this.events.emit('end-streams');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.events.removeAllListeners();
    this.sub.disconnect();
  }

  private onMessage(channel: string, message: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(message) as Record<string, unknown>;
    } catch {
      this.log.warn({ channel }, 'ignoring malformed notification');
      return;
    }
    if (channel === channels.revocations && typeof m.fingerprint === 'string') {
      this.events.emit('revoked', { fingerprint: m.fingerprint, reason: typeof m.reason === 'string' ? m.reason : 'access revoked' });
    } else if (channel === channels.invalidate && typeof m.tenant === 'string') {
      this.cache.drop(m.tenant, typeof m.uid === 'string' ? m.uid : undefined);
    }
  }
}
