import { grpc, normalizeFingerprint, peerOf, requireRole, ServiceError, toStatus, unary } from '@keywarden/common';
import type { lifecycleV1 } from '@keywarden/proto';
import { ResultReason } from '@keywarden/kmip';
import type { Core, OpContext } from './core';
import type { Notifications } from './notifications';
import { activate } from './operations/activate';
import { addAttribute } from './operations/add-attribute';
import { check } from './operations/check';
import { create } from './operations/create';
import { deleteAttribute } from './operations/delete-attribute';
import { destroy } from './operations/destroy';
import { get } from './operations/get';
import { getAttributeList } from './operations/get-attribute-list';
import { getAttributes } from './operations/get-attributes';
import { identify } from './operations/identify';
import { locate } from './operations/locate';
import { modifyAttribute } from './operations/modify-attribute';
import { register } from './operations/register';
import { revoke } from './operations/revoke';
import { createKeyPair } from './operations/create-key-pair';
import { decrypt } from './operations/decrypt';
import { deriveKey } from './operations/derive-key';
import { encrypt } from './operations/encrypt';
import { mac } from './operations/mac';
import { macVerify } from './operations/mac-verify';
import { rngRetrieve } from './operations/rng-retrieve';
import { sign } from './operations/sign';
import { signatureVerify } from './operations/signature-verify';
import { watchAccessRevocations } from './operations/watch-access-revocations';
import { methodName, RELAY_CALLS, RelayHandlers, serveRelay } from './relay';

type Op<Req, Res> = (core: Core, c: OpContext, req: Req) => Promise<Res>;

const MAX_CLAIMED = 128;

function denied(message: string): ServiceError {
  return new ServiceError(grpc.status.PERMISSION_DENIED, message, ResultReason.PermissionDenied);
}

/**
 * Whom a call acts for (docs/architecture.md, "Trust model"). A KMIP gateway
 * relays its clients: the request's `caller` names the KMIP client's
 * certificate, which the gateway authenticated. Any other certificate of the
 * internal CA (an internal platform) is itself the caller: its own
 * fingerprint must be registered to a tenant, and a `caller` naming another
 * certificate is refused. keywarden's other roles have no tenant and use
 * their own APIs. Without TLS (development) the request's caller is taken
 * as given.
 */
export function callerFor(call: object, secure: boolean, c: OpContext, claimed: lifecycleV1.Caller | undefined): lifecycleV1.Caller | undefined {
  // The audit names who asked even when the call is refused.
  c.fingerprint = (claimed?.certFingerprint ?? '').slice(0, MAX_CLAIMED);
  if (!secure) return claimed;
  const peer = peerOf(call);
  if (!peer) throw denied('no client certificate');
  if (peer.role === 'kmip-gateway') return claimed;
  c.fingerprint = peer.fingerprint;
  if (peer.refusal) throw denied(peer.refusal);
  if (peer.role) throw denied(`the ${peer.role} role may not use the KeyLifecycle API${peer.role === 'operator' ? ' (operators use the Admin API)' : ''}`);
  if (claimed?.certFingerprint) {
    let fp: string | undefined;
    try {
      fp = normalizeFingerprint(claimed.certFingerprint);
    } catch {
      fp = undefined;
    }
    if (fp !== peer.fingerprint) throw denied('only a KMIP gateway may act for another certificate; leave caller empty or name your own certificate');
  }
  return { certFingerprint: peer.fingerprint };
}

/** Every operation of the service, by its Relay call name (the unary method is methodName(call)). */
const OPS: { [K in keyof RelayHandlers]: Op<Parameters<RelayHandlers[K]>[0], Awaited<ReturnType<RelayHandlers[K]>>> } = {
  identify, create, register, get, locate, activate, revoke, destroy, check, getAttributes, getAttributeList, addAttribute, modifyAttribute, deleteAttribute,
  createKeyPair, deriveKey, encrypt, decrypt, sign, signatureVerify, mac, macVerify, rngRetrieve,
};

/**
 * One operation for one call, as both transports run it: audited under its
 * unary method's name, acting for whom callerFor says the call may act for.
 */
function run<Req extends { caller?: lifecycleV1.Caller }, Res>(core: Core, secure: boolean, name: string, op: Op<Req, Res>, call: object, req: Req): Promise<Res> {
  return core.audited(name, (c) => op(core, c, { ...req, caller: callerFor(call, secure, c, req.caller) }));
}

/**
 * The Relay stream's handlers for one stream: the same operations as the
 * unary handlers, with callerFor asked per request on the stream's call (the
 * stream's certificate, checked once to be a gateway's).
 */
function relayHandlers(core: Core, secure: boolean, call: object): RelayHandlers {
  const out: Partial<Record<keyof RelayHandlers, unknown>> = {};
  for (const k of RELAY_CALLS) {
    const name = methodName(k);
    const op = OPS[k] as Op<{ caller?: lifecycleV1.Caller }, unknown>;
    out[k] = (req: { caller?: lifecycleV1.Caller }) => run(core, secure, name, op, call, req);
  }
  return out as RelayHandlers;
}

/** The KeyLifecycle gRPC service: one handler per KMIP operation, each audited. */
export function lifecycleService(core: Core, notifications: Notifications, secure: boolean): lifecycleV1.KeyLifecycleServer {
  const h = <Req extends { caller?: lifecycleV1.Caller }, Res>(name: string, op: Op<Req, Res>) =>
    unary<Req, Res>(core.log, name, (req, call) => run(core, secure, name, op, call, req));
  return {
    identify: h('Identify', identify),
    watchAccessRevocations: (call) => {
      try {
        requireRole(call, secure, ['kmip-gateway'], 'WatchAccessRevocations');
      } catch (e) {
        call.emit('error', toStatus(e, core.log));
        return;
      }
      watchAccessRevocations(notifications, call);
    },
    create: h('Create', create),
    register: h('Register', register),
    get: h('Get', get),
    locate: h('Locate', locate),
    activate: h('Activate', activate),
    revoke: h('Revoke', revoke),
    destroy: h('Destroy', destroy),
    check: h('Check', check),
    getAttributes: h('GetAttributes', getAttributes),
    getAttributeList: h('GetAttributeList', getAttributeList),
    addAttribute: h('AddAttribute', addAttribute),
    modifyAttribute: h('ModifyAttribute', modifyAttribute),
    deleteAttribute: h('DeleteAttribute', deleteAttribute),
    createKeyPair: h('CreateKeyPair', createKeyPair),
    deriveKey: h('DeriveKey', deriveKey),
    encrypt: h('Encrypt', encrypt),
    decrypt: h('Decrypt', decrypt),
    sign: h('Sign', sign),
    signatureVerify: h('SignatureVerify', signatureVerify),
    mac: h('Mac', mac),
    macVerify: h('MacVerify', macVerify),
    rngRetrieve: h('RngRetrieve', rngRetrieve),
    relay: (call) => {
      // Once per stream: only a gateway may relay (each request's caller then names its KMIP client).
      try {
        requireRole(call, secure, ['kmip-gateway'], 'Relay');
      } catch (e) {
        call.emit('error', toStatus(e, core.log));
        return;
      }
      // Streams end, drained, when this replica shuts down (and, like the revocation streams,
      // after a Redis reconnection: harmless here, the gateway opens another at once).
      serveRelay(call, relayHandlers(core, secure, call), { log: core.log, onEnd: (l) => notifications.onEndStreams(l) });
    },
  };
}
