// Streams fingerprints whose access ended, from every replica (Redis pub/sub),
// so each gateway closes that client's open connections at once.
import { grpc } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import type { Notifications } from '../notifications';

export function watchAccessRevocations(notifications: Notifications, call: grpc.ServerWritableStream<lifecycleV1.WatchAccessRevocationsRequest, lifecycleV1.AccessRevoked>): void {
  const stop = notifications.onRevocation((r) => {
    call.write({ certFingerprint: r.fingerprint, reason: r.reason });
  });
  // Headers now tell the subscriber it is subscribed: anything revoked from
  // here on reaches it; a gateway re-checks older connections at that point.
  call.sendMetadata(new grpc.Metadata());
  const end = () => stop();
  call.on('cancelled', end);
  call.on('close', end);
  call.on('error', end);
}
