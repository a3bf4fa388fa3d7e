// The revocation stream (KeyLifecycle.WatchAccessRevocations), the same for
// every transport: one server stream, replaced a second after it breaks.
import { grpc } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';

export interface RevocationListeners {
  /** A fingerprint whose access ended. */
  onRevoked(fingerprint: string): void;
  /** The stream is back after a break: revocations sent meanwhile were missed. */
  onResumed?(): void;
  /**
   * True each time the stream is established (key-lifecycle sent its headers:
   * every revocation from then on reaches us), false as soon as it breaks.
   */
  onLive?(live: boolean): void;
}

/** Watches revocations on `client` until the returned function is called. */
export function watchRevocations(client: lifecycleV1.KeyLifecycleClient, l: RevocationListeners, onWatchError?: (err: Error) => void): () => void {
  let stopped = false;
  let broken = false;
  let stream: grpc.ClientReadableStream<lifecycleV1.AccessRevoked> | undefined;
  let retry: NodeJS.Timeout | undefined;
  const open = () => {
    if (stopped) return;
    const s = client.watchAccessRevocations({});
    stream = s;
    // The server sends nothing on subscribe but its headers: the stream is live once they arrive.
    s.once('metadata', () => {
      if (stopped) return;
      l.onLive?.(true);
      if (broken) {
        broken = false;
        l.onResumed?.();
      }
    });
    // A failed stream emits both 'error' and 'end': it is replaced once, or
    // every outage second would double the streams (and the timers).
    let replaced = false;
    const replace = () => {
      if (stopped || replaced) return;
      replaced = true;
      broken = true;
      l.onLive?.(false);
      retry = setTimeout(open, 1000);
      retry.unref();
    };
    s.on('data', (m: lifecycleV1.AccessRevoked) => l.onRevoked(m.certFingerprint));
    s.on('error', (err: Error & { code?: number }) => {
      if (stopped || err.code === grpc.status.CANCELLED) return;
      onWatchError?.(err);
      replace();
    });
    s.on('end', replace);
  };
  open();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    stream?.cancel();
  };
}
