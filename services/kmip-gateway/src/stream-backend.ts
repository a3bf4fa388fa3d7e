// The gateway's requests to key-lifecycle multiplexed over a few long-lived
// Relay streams (proto/keywarden/lifecycle/v1, KeyLifecycle.Relay) instead of
// one unary call each: a message on an open stream costs a quarter of the CPU
// of a unary call (docs/benchmarks.md, "hop floor").
//
// What a unary call gave for free, and how it is kept here:
// - Deadlines: each request has its own timer; when it fires the request
//   fails with DEADLINE_EXCEEDED, and an answer arriving later is ignored
//   (ids are never reused on a stream). key-lifecycle is told the time left,
//   and abandons the request once it has passed.
// - Load over every replica: grpc-js round robin gives each new call (each
//   stream) the next ready subchannel, so the pool keeps at least as many
//   streams as key-lifecycle's name has addresses, sends each request on the
//   least busy stream, moves a stream when the replicas hold uneven shares,
//   and recycles every stream after a while (or a number of requests),
//   draining it, so replicas added later get their share.
// - Failover: requests go only on streams key-lifecycle has accepted (its
//   headers arrived), so a request that was never sent can always go
//   elsewhere. A stream key-lifecycle ends with OK (draining, shutting down)
//   leaves its unanswered requests never run: they go on another stream. A
//   stream that fails leaves them in doubt: reads (Identify, Get, Locate,
//   Check, Get Attributes, Get Attribute List) are sent again within their
//   deadline; a change (Create, Register, Activate, Revoke, Destroy,
//   Add/Modify/Delete Attribute) fails with UNAVAILABLE "outcome unknown",
//   never run twice.
// - Errors: key-lifecycle's status, message, KMIP reason and detail come in
//   the answer and are rebuilt into the error a unary call would have
//   thrown, so errors.ts reads them the same way.
// - Bounds: requests in flight per stream, and waiting for a stream.
import dns from 'dns';
import net from 'net';
import { DETAIL_METADATA, grpc, KMIP_REASON_METADATA } from '@keywarden/common';
import type { Logger } from '@keywarden/common';
import { lifecycleV1 } from '@keywarden/proto';
import type { LifecycleBackend, LifecycleCall } from './backend';
import { LIFECYCLE_CALLS, unaryCalls } from './unary-backend';

export interface StreamSettings {
  /** Fewest streams kept open (default 4); more when key-lifecycle's name resolves to more addresses. */
  streams?: number;
  /** Requests in flight on one stream (default 512); key-lifecycle refuses more than 1024. */
  maxInFlightPerStream?: number;
  /** Requests waiting for room on a stream (default 20,000): beyond that a request fails at once (RESOURCE_EXHAUSTED). */
  maxWaiting?: number;
  /** A stream is drained and replaced after this long (default 5 min, ±10 %)... */
  streamMaxAgeMs?: number;
  /** ...or after this many requests (default 100,000). */
  streamMaxRequests?: number;
}

interface Options extends StreamSettings {
  address: string;
  deadlineMs: number;
  log?: Logger;
}

/** Reads: safe to send again when a stream fails with them in flight. */
const READS = new Set<LifecycleCall>([
  'identify', 'get', 'locate', 'check', 'getAttributes', 'getAttributeList',
  // Cryptographic operations change nothing stored.
  'encrypt', 'decrypt', 'sign', 'signatureVerify', 'mac', 'macVerify', 'rngRetrieve',
]);
/** How often a read is sent at most (a first time and two more after failed streams). */
const MAX_SENDS = 3;
/** While no stream can be opened, a new attempt at most this often without a request waiting. */
const RETRY_MS = 1000;
/** How long after a stream is told to drain it may take before it is cut. */
const DRAIN_GRACE_MS = 5000;
/** The first look at how streams are spread over the replicas; later ones back off while nothing improves. */
const BALANCE_MS = 2000;
/** How often key-lifecycle's name is resolved again, for the number of streams and the balance. */
const RESOLVE_MS = 30_000;
/** When key-lifecycle does not know Relay (an older version), unary calls for this long before streams are tried again. */
const UNARY_FALLBACK_MS = 60_000;
const MAX_STREAMS = 64;
/** Ids stay below this, so one never comes round again on a stream (recycled well before). */
const MAX_ID = 0xffff_ffff;

const RELAY = lifecycleV1.KeyLifecycleService.relay;

interface Request {
  kind: LifecycleCall;
  body: unknown;
  /** Date.now() by which it must be answered. */
  deadline: number;
  started: number;
  timer: NodeJS.Timeout | undefined;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** The stream it is in flight on, and its id there. */
  stream: Stream | undefined;
  id: number;
  sends: number;
  done: boolean;
}

type State = 'opening' | 'ready' | 'draining' | 'closed';

/** What the streams to one replica share: requests are spread by replica, not by stream. */
interface Replica {
  /** Requests in flight on its streams. */
  load: number;
  /** When it was last sent a request (a sequence number): among equally loaded replicas the one waiting longest goes first. */
  lastSent: number;
  /** A request timed out there or one of its streams failed, and nothing was answered since: it gets requests only when no other replica can. */
  quiet: boolean;
}

/** A call made directly on the channel (as unaryCall does): no interceptor layers, no Node stream per message. */
type RawCall = ReturnType<grpc.ChannelInterface['createCall']>;

interface Stream {
  call: RawCall;
  state: State;
  inFlight: Map<number, Request>;
  nextId: number;
  sent: number;
  openedAt: number;
  retireAt: number;
  /** The replica's address, and what its streams share, once the stream is accepted. */
  peer: string;
  replica: Replica;
  drainTimer: NodeJS.Timeout | undefined;
  halfClosed: boolean;
}

/** A failed call shaped as grpc-js shapes it (code, details, trailing metadata), for errors.ts. */
function callError(code: grpc.status, details: string, metadata = new grpc.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

/** key-lifecycle's error from a Relay answer, as the unary call would have thrown it. */
export function relayFailure(e: lifecycleV1.RelayError): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (e.kmipResultReason) metadata.set(KMIP_REASON_METADATA, String(e.kmipResultReason));
  if (e.detail) metadata.set(DETAIL_METADATA, Buffer.from(e.detail, 'utf8'));
  return callError(e.code, e.message, metadata);
}

/** A FIFO of requests; expired ones are skipped when taken (and dropped when they pile up). */
class Queue {
  private items: Request[] = [];
  private head = 0;
  live = 0;

  push(r: Request): void {
    this.items.push(r);
    this.live++;
  }

  /** A request that left the queue by itself (its deadline passed). */
  forget(): void {
    this.live--;
    if (this.items.length - this.head > 64 && this.live * 2 < this.items.length - this.head) {
      this.items = this.items.slice(this.head).filter((r) => !r.done);
      this.head = 0;
    }
  }

  shift(): Request | undefined {
    while (this.head < this.items.length) {
      const r = this.items[this.head++];
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (!r.done) {
        this.live--;
        return r;
      }
    }
    return undefined;
  }

  drain(): Request[] {
    const out = this.items.slice(this.head).filter((r) => !r.done);
    this.items = [];
    this.head = 0;
    this.live = 0;
    return out;
  }
}

/** host:port as grpc-js prints a subchannel address (IPv6 in brackets). */
function hostPort(host: string, port: string | number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The addresses a gRPC target names: an ipv4:/ipv6: list as written, a DNS
 * name (dns:///name:port, or name:port) resolved as grpc-js does. Empty when
 * it cannot tell (a unix socket, a failed lookup).
 */
export async function targetAddresses(target: string): Promise<string[]> {
  const list = /^(ipv4|ipv6):(.*)$/.exec(target);
  if (list) {
    return list[2].split(',').map((a) => {
      const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(a.trim());
      return m ? hostPort(m[1], m[2]) : a.trim();
    });
  }
  if (/^unix:/.test(target)) return [];
  const name = target.replace(/^dns:(\/\/[^/]*\/)?/, '');
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(name);
  if (!m) return [];
  const [, host, port] = m;
  if (net.isIP(host)) return [hostPort(host, port)];
  try {
    const found = await dns.promises.lookup(host, { all: true });
    return [...new Set(found.map((a) => hostPort(a.address, port)))];
  } catch {
    return [];
  }
}

/**
 * A LifecycleBackend whose requests travel over Relay streams on `client`'s
 * channel; `watch` serves watchAccessRevocations.
 */
export function streamLifecycleBackend(client: lifecycleV1.KeyLifecycleClient, o: Options, watch: LifecycleBackend['watchAccessRevocations']): LifecycleBackend {
  const channel = client.getChannel();
  const unary = unaryCalls(channel, o.deadlineMs);
  const minStreams = Math.min(MAX_STREAMS, Math.max(1, o.streams ?? 4));
  const perStream = Math.max(1, o.maxInFlightPerStream ?? 512);
  const maxWaiting = o.maxWaiting ?? 20_000;
  const maxAgeMs = o.streamMaxAgeMs ?? 300_000;
  const maxRequests = Math.min(o.streamMaxRequests ?? 100_000, MAX_ID - 1);
  const streams = new Set<Stream>();
  const replicas = new Map<string, Replica>();
  let sequence = 0;
  const waiting = new Queue();
  let addresses: string[] = [];
  let closed = false;
  /** The last failure to open a stream, and when. */
  let openFailure: grpc.StatusObject | undefined;
  let openFailedAt = 0;
  let unaryUntil = 0;
  let nextBalanceAt = Date.now() + BALANCE_MS;
  let balanceMisses = 0;
  let fillTimer: NodeJS.Timeout | undefined;

  const target = () => Math.min(MAX_STREAMS, Math.max(minStreams, addresses.length));
  const count = (s: State) => {
    let n = 0;
    for (const x of streams) if (x.state === s) n++;
    return n;
  };

  const resolveTarget = () => {
    void targetAddresses(o.address).then((a) => {
      if (closed) return;
      if (a.length > 0) addresses = a;
      fill();
    });
  };

  // ---- requests ----

  const settle = (r: Request, err: Error | undefined, value?: unknown) => {
    if (r.done) return;
    r.done = true;
    clearTimeout(r.timer);
    if (err) r.reject(err);
    else r.resolve(value);
  };

  /** A draining stream with nothing in flight: the gateway is done sending; key-lifecycle ends it (OK). */
  const endIfDrained = (s: Stream) => {
    if (s.state !== 'draining' || s.inFlight.size > 0 || s.halfClosed) return;
    s.halfClosed = true;
    s.call.halfClose();
  };

  const expire = (r: Request) => {
    if (r.done) return;
    const s = r.stream;
    if (s) {
      s.inFlight.delete(r.id);
      s.replica.load--;
      s.replica.quiet = true;
      endIfDrained(s);
    } else {
      waiting.forget();
    }
    const where = s ? `waiting for key-lifecycle at ${s.peer} to answer` : 'waiting for a stream to key-lifecycle';
    settle(r, callError(grpc.status.DEADLINE_EXCEEDED, `Deadline exceeded after ${((Date.now() - r.started) / 1000).toFixed(3)}s, ${where}`));
  };

  /**
   * Where the next request goes: among ready streams with room, a replica
   * that has not gone quiet, the least loaded replica, of equally loaded
   * ones the one that waited longest (so even one request at a time
   * alternates), and its stream with the fewest requests in flight.
   */
  const pick = (): Stream | undefined => {
    let best: Stream | undefined;
    for (const s of streams) {
      if (s.state !== 'ready' || s.inFlight.size >= perStream) continue;
      if (!best) {
        best = s;
        continue;
      }
      const p = s.replica;
      const b = best.replica;
      if (p.quiet !== b.quiet) {
        if (!p.quiet) best = s;
      } else if (p !== b) {
        if (p.load < b.load || (p.load === b.load && p.lastSent < b.lastSent)) best = s;
      } else if (s.inFlight.size < best.inFlight.size) {
        best = s;
      }
    }
    return best;
  };

  const send = (s: Stream, r: Request) => {
    let bytes: Buffer;
    const id = s.nextId++;
    try {
      const m = { id, timeoutMs: Math.max(1, r.deadline - Date.now()), [r.kind]: r.body } as unknown as lifecycleV1.RelayRequest;
      bytes = RELAY.requestSerialize(m);
    } catch (e) {
      settle(r, e instanceof Error ? e : new Error(String(e)));
      return;
    }
    r.stream = s;
    r.id = id;
    r.sends++;
    s.inFlight.set(id, r);
    s.sent++;
    s.replica.load++;
    s.replica.lastSent = ++sequence;
    s.call.sendMessageWithContext({}, bytes);
    if (s.sent >= maxRequests) retire(s);
  };

  const dispatch = (r: Request) => {
    const s = pick();
    if (s) {
      send(s, r);
      return;
    }
    if (waiting.live >= maxWaiting) {
      settle(r, callError(grpc.status.RESOURCE_EXHAUSTED, `${waiting.live} requests are already waiting for key-lifecycle`));
      return;
    }
    r.stream = undefined;
    waiting.push(r);
    fill();
  };

  /** Sends waiting requests while streams have room. */
  const pump = () => {
    while (waiting.live > 0) {
      const s = pick();
      if (!s) return;
      const r = waiting.shift();
      if (!r) return;
      send(s, r);
    }
  };

  const viaUnary = (r: Request) => {
    // The unary call has its own deadline; the request has left the queue.
    clearTimeout(r.timer);
    const call = unary[r.kind] as (b: unknown) => Promise<unknown>;
    call(r.body).then((v) => settle(r, undefined, v), (e: Error) => settle(r, e));
  };

  const request = (kind: LifecycleCall) => (body: unknown): Promise<unknown> => {
    if (closed) return Promise.reject(callError(grpc.status.UNAVAILABLE, 'the connection to key-lifecycle is closed'));
    if (unaryUntil > 0 && Date.now() < unaryUntil) return (unary[kind] as (b: unknown) => Promise<unknown>)(body);
    return new Promise((resolve, reject) => {
      const now = Date.now();
      const r: Request = { kind, body, deadline: now + o.deadlineMs, started: now, timer: undefined, resolve, reject, stream: undefined, id: 0, sends: 0, done: false };
      r.timer = setTimeout(() => expire(r), o.deadlineMs);
      dispatch(r);
    });
  };

  // ---- streams ----

  const open = () => {
    const now = Date.now();
    const call = channel.createCall(RELAY.path, Infinity, undefined, null, null);
    const s: Stream = {
      call, state: 'opening', inFlight: new Map(), nextId: 1, sent: 0, openedAt: now,
      retireAt: now + maxAgeMs * (0.9 + Math.random() * 0.2), peer: '', replica: { load: 0, lastSent: 0, quiet: false }, drainTimer: undefined, halfClosed: false,
    };
    streams.add(s);
    call.start(new grpc.Metadata(), {
      onReceiveMetadata: () => accepted(s),
      onReceiveMessage: (b: Buffer) => answered(s, b),
      onReceiveStatus: (status: grpc.StatusObject) => ended(s, status),
    });
    call.startRead();
  };

  const accepted = (s: Stream) => {
    if (s.state !== 'opening') return;
    s.state = 'ready';
    s.peer = s.call.getPeer();
    let replica = replicas.get(s.peer);
    if (!replica) replicas.set(s.peer, (replica = { load: 0, lastSent: 0, quiet: false }));
    s.replica = replica;
    openFailure = undefined;
    pump();
    fill();
  };

  const answered = (s: Stream, bytes: Buffer) => {
    let m: lifecycleV1.RelayResponse;
    try {
      m = RELAY.responseDeserialize(bytes);
    } catch (e) {
      s.call.cancelWithStatus(grpc.status.INTERNAL, `Response message parsing error: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    s.call.startRead();
    if (m.draining) {
      retire(s);
      return;
    }
    s.replica.quiet = false;
    const r = s.inFlight.get(m.id);
    // No such request: it gave up at its deadline (or the id is not ours); the late answer is dropped.
    if (r) {
      s.inFlight.delete(m.id);
      s.replica.load--;
      if (m.error) settle(r, relayFailure(m.error));
      else {
        const v = (m as unknown as Record<string, unknown>)[r.kind];
        settle(r, v === undefined ? callError(grpc.status.INTERNAL, `key-lifecycle answered ${r.kind} without its result`) : undefined, v);
      }
    }
    if (s.state === 'draining') endIfDrained(s);
    else pump();
  };

  /** No new requests on `s`; it ends once its requests are answered, and another stream takes its place. */
  const retire = (s: Stream) => {
    if (s.state !== 'ready') return;
    s.state = 'draining';
    endIfDrained(s);
    s.drainTimer = setTimeout(() => s.call.cancelWithStatus(grpc.status.CANCELLED, 'the stream did not end after draining'), o.deadlineMs + DRAIN_GRACE_MS);
    s.drainTimer.unref();
    fill();
  };

  const ended = (s: Stream, status: grpc.StatusObject) => {
    const was = s.state;
    s.state = 'closed';
    streams.delete(s);
    clearTimeout(s.drainTimer);
    const orphans = [...s.inFlight.values()];
    s.inFlight.clear();
    s.replica.load -= orphans.length;
    if (s.peer && s.replica.load === 0 && ![...streams].some((x) => x.peer === s.peer)) replicas.delete(s.peer);
    if (was === 'opening' && status.code !== grpc.status.OK) {
      openFailure = status;
      openFailedAt = Date.now();
    }
    // A stream that failed says its replica may be gone (its other streams share the connection): the
    // reads sent again go to another replica first, until this one answers something.
    if (status.code !== grpc.status.OK) s.replica.quiet = true;
    if (orphans.length > 0 && status.code !== grpc.status.OK && !closed) {
      o.log?.warn({ peer: s.peer, grpcCode: grpc.status[status.code], details: status.details, inFlight: orphans.length }, 'a stream to key-lifecycle failed with requests in flight');
    }
    for (const r of orphans) {
      if (r.done) continue;
      if (closed) settle(r, callError(grpc.status.UNAVAILABLE, 'the connection to key-lifecycle was closed'));
      // Ended with OK: whatever key-lifecycle had not answered it never ran.
      else if (status.code === grpc.status.OK || (READS.has(r.kind) && r.sends < MAX_SENDS)) dispatch(r);
      else {
        settle(r, callError(grpc.status.UNAVAILABLE, `outcome unknown: the stream to key-lifecycle at ${s.peer || 'an unknown address'} failed while the request was in flight (${status.details})`));
      }
    }
    if (closed) return;
    if (was === 'opening' && status.code === grpc.status.UNIMPLEMENTED) {
      // A key-lifecycle without Relay (older than this gateway): unary calls meanwhile.
      o.log?.warn({ retryInMs: UNARY_FALLBACK_MS }, 'key-lifecycle does not serve Relay streams: using unary calls for a while');
      unaryUntil = Date.now() + UNARY_FALLBACK_MS;
      for (const r of waiting.drain()) viaUnary(r);
      return;
    }
    if (was === 'opening' && status.code !== grpc.status.OK && count('ready') === 0 && count('opening') === 0) {
      // Nothing to send on: fail fast, as a unary call to an unreachable service does.
      const e = callError(status.code, status.details, status.metadata);
      for (const r of waiting.drain()) settle(r, e);
    }
    fill();
  };

  /** Opens streams up to the pool's size: one at a time while none is accepted, the rest once one is. */
  const fill = () => {
    if (closed) return;
    if (unaryUntil > 0 && Date.now() < unaryUntil) return;
    const ready = count('ready');
    const opening = count('opening');
    if (ready === 0) {
      if (opening > 0) return;
      const wait = openFailure ? openFailedAt + RETRY_MS - Date.now() : 0;
      if (wait <= 0 || waiting.live > 0) open();
      else if (!fillTimer) {
        fillTimer = setTimeout(() => { fillTimer = undefined; fill(); }, wait);
        fillTimer.unref();
      }
      return;
    }
    for (let n = ready + opening; n < target(); n++) open();
  };

  /**
   * When the replicas hold uneven numbers of streams (grpc-js gave the first
   * streams to the first replica that was ready, or a replica came back),
   * one stream of the busiest replica is drained: round robin gives its
   * replacement to the next replica. While that does not help (an address
   * that never answers), the next look comes later each time.
   */
  const balance = () => {
    const ready = [...streams].filter((s) => s.state === 'ready');
    if (ready.length < 2 || addresses.length < 2 || count('opening') > 0 || count('draining') > 0) return;
    const per = new Map<string, Stream[]>(addresses.map((a) => [a, []]));
    for (const s of ready) {
      const l = per.get(s.peer);
      if (l) l.push(s);
      else per.set(s.peer, [s]);
    }
    const lists = [...per.values()];
    const most = lists.reduce((a, b) => (b.length > a.length ? b : a));
    const least = lists.reduce((a, b) => (b.length < a.length ? b : a));
    if (most.length - least.length < 2) {
      balanceMisses = 0;
      nextBalanceAt = Date.now() + BALANCE_MS;
      return;
    }
    const moved = most.reduce((a, b) => (b.openedAt < a.openedAt ? b : a));
    o.log?.debug({ peer: moved.peer, streams: Object.fromEntries([...per].map(([k, l]) => [k, l.length])) }, 'draining a stream to spread streams over the key-lifecycle replicas');
    retire(moved);
    nextBalanceAt = Date.now() + BALANCE_MS * 2 ** Math.min(balanceMisses++, 7);
  };

  let lastResolve = 0;
  const tick = setInterval(() => {
    const now = Date.now();
    for (const s of streams) if (s.state === 'ready' && now >= s.retireAt) retire(s);
    if (now >= nextBalanceAt) balance();
    if (now - lastResolve >= RESOLVE_MS) {
      lastResolve = now;
      resolveTarget();
    }
  }, 500);
  tick.unref();
  lastResolve = Date.now();
  resolveTarget();
  open();

  const backend: Partial<Record<LifecycleCall, unknown>> = {};
  for (const k of LIFECYCLE_CALLS) backend[k] = request(k);
  return {
    ...(backend as Pick<LifecycleBackend, LifecycleCall>),
    watchAccessRevocations: watch,
    close: () => {
      if (closed) return;
      closed = true;
      clearInterval(tick);
      clearTimeout(fillTimer);
      for (const r of waiting.drain()) settle(r, callError(grpc.status.UNAVAILABLE, 'the connection to key-lifecycle was closed'));
      for (const s of [...streams]) s.call.cancelWithStatus(grpc.status.CANCELLED, 'the gateway closed its connection to key-lifecycle');
      client.close();
    },
  };
}
