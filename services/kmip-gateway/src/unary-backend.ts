// One gRPC unary call to key-lifecycle per request (LIFECYCLE_TRANSPORT=unary):
// the simplest transport, kept for debugging and for key-lifecycle replicas
// that do not serve Relay yet.
import { grpc, UnaryMethod, unaryCall } from '@keywarden/common';
import { lifecycleV1 } from '@keywarden/proto';
import type { LifecycleBackend, LifecycleCall } from './backend';

/** Every request method of LifecycleBackend, by its name there (also the Relay oneof field names). */
export const LIFECYCLE_CALLS = [
  'identify', 'create', 'register', 'get', 'locate', 'activate', 'revoke', 'destroy', 'check',
  'getAttributes', 'getAttributeList', 'addAttribute', 'modifyAttribute', 'deleteAttribute',
  'createKeyPair', 'deriveKey', 'encrypt', 'decrypt', 'sign', 'signatureVerify', 'mac', 'macVerify', 'rngRetrieve',
] as const satisfies readonly LifecycleCall[];

/** The request methods of a backend making unary calls on `channel`, `deadlineMs` each. */
export function unaryCalls(channel: grpc.ChannelInterface, deadlineMs: number): Pick<LifecycleBackend, LifecycleCall> {
  const calls: Partial<Record<LifecycleCall, unknown>> = {};
  for (const m of LIFECYCLE_CALLS) {
    // Straight on the channel (unaryCall): the generated method's interceptor layers cost ~50 µs per call.
    const method = lifecycleV1.KeyLifecycleService[m] as UnaryMethod<unknown, unknown>;
    calls[m] = (req: unknown) => unaryCall(channel, method, req, deadlineMs);
  }
  return calls as Pick<LifecycleBackend, LifecycleCall>;
}
