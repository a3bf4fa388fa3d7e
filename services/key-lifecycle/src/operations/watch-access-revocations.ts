// Streams fingerprints whose access ended, from every replica (Redis pub/sub),
// so each gateway closes that client's open connections at once.
import { grpc } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import type { Notifications } from '../notifications';

export function watchAccessRevocations(notifications: Notifications, call: grpc.ServerWritableStream<lifecycleV1.WatchAccessRevocationsRequest, lifecycleV1.AccessRevoked>): void {
  const stopRevocations = notifications.onRevocation((r) => {
    call.write({ certFingerprint: r.fingerprint, reason: r.reason });
  });
  // On shutdown, and when this replica may have missed revocations (Redis
  // reconnection), the stream ends with OK: the gateway subscribes again (to
  // another replica when this one is going) and re-checks its connections,
  // instead of noticing only when a keepalive ping goes unanswered, or never.
  const stopShutdown = notifications.onEndStreams(() => call.end());
  // Headers now tell the subscriber it is subscribed: anything revoked from
  // here on reaches it; a gateway re-checks older connections at that point.
  call.sendMetadata(new grpc.Metadata());
  const end = () => { stopRevocations(); stopShutdown(); };
  call.on('cancelled', end);
  call.on('close', end);
  call.on('error', end);
}
