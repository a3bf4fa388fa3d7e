import { EventEmitter } from 'events';
import type Redis from 'ioredis';
import type { Logger } from '@keywarden/common';
import type { PlaintextCache } from './cache';
import { channels } from './store/keys';

// Redis pub/sub between key-lifecycle replicas: certificate revocations (to
// every WatchAccessRevocations stream, so each gateway closes the client's
// connections) and plaintext-cache invalidations.

export interface Revocation {
  fingerprint: string;
  reason: string;
}

export class Notifications {
  private readonly events = new EventEmitter();

  private constructor(private readonly sub: Redis, private readonly log: Logger, private readonly cache: PlaintextCache) {
    this.events.setMaxListeners(0);
  }

  static async start(sub: Redis, log: Logger, cache: PlaintextCache): Promise<Notifications> {
    const n = new Notifications(sub, log, cache);
    sub.on('message', (channel: string, message: string) => n.onMessage(channel, message));
    await sub.subscribe(channels.revocations, channels.invalidate);
    // Any later 'ready' is a reconnection (a Redis restart or failover): what was
    // published meanwhile never reached this replica. Subscribers are told by
    // the end of their streams (a gateway then re-checks its open
    // connections) and the plaintext cache forgets what it may no longer know.
    sub.on('ready', () => n.resync());
    return n;
  }

  private resync(): void {
    this.log.info('resubscribed to Redis notifications after a disconnection: ending revocation streams so subscribers re-check, clearing the plaintext cache');
    this.cache.clear();
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
