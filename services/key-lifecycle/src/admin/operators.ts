// Console operator accounts (docs/console.md): name, role and a scrypt hash
// made by the caller, in Redis. Sign-in is checked here, so a hash never
// leaves key-lifecycle; failures are counted per account in Redis, so the
// limit holds across every console and key-lifecycle replica.
import { randomBytes } from 'crypto';
import { grpc, hashPassword, parsePasswordHash, ServiceError, verifyPassword } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import type { Core } from '../core';
import { adminError } from '../errors';
import type { Keyspace } from '../store/keys';

/**
 * The account keys (store/keys.ts): kw:operators, kw:operator:<name>,
 * kw:operator-failures:<name> on one primary; on Redis Cluster all tagged
 * {kw}, so that each transaction below stays in one slot.
 */
const opKeysOf = (k: Keyspace) => ({
  all: k.operators,
  one: (name: string) => k.operator(name),
  failures: (name: string) => k.operatorFailures(name),
});

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** The console's own certificate name: no account may take it (the audit would not tell the two apart). */
export const CONSOLE_IDENTITY = 'console';

/** Failed sign-ins of one account within FAILURE_WINDOW_S after which sign-in is refused until the window ends. */
export const MAX_FAILURES = 10;
const FAILURE_WINDOW_S = 15 * 60;
/** Verifications at once (each takes 32 MiB and ~0.1 s of a libuv thread), and waiting beyond them. */
const CONCURRENT = 2;
const WAITING = 32;

const ROLES = new Set([adminV1.OperatorRole.OPERATOR_ROLE_ADMIN, adminV1.OperatorRole.OPERATOR_ROLE_VIEWER]);

export interface OperatorRecord {
  name: string;
  role: adminV1.OperatorRole;
  hash: string;
  epoch: string;
  createdAt: string;
  passwordChangedAt: string;
}

export function checkOperatorName(name: string): string {
  if (!NAME.test(name)) throw adminError.invalid('an operator name is 1 to 64 letters, digits, ".", "_" or "-"');
  return name;
}

function checkHash(hash: string): string {
  try {
    parsePasswordHash(hash);
  } catch (e) {
    throw adminError.invalid((e as Error).message);
  }
  return hash;
}

export async function loadOperator(core: Core, name: string): Promise<OperatorRecord | undefined> {
  const opKeys = opKeysOf(core.store.k);
  if (!NAME.test(name)) return undefined;
  const h = await core.store.redis.hgetall(opKeys.one(name));
  if (!h.name) return undefined;
  return { name: h.name, role: Number(h.role) as adminV1.OperatorRole, hash: h.hash ?? '', epoch: h.epoch ?? '', createdAt: h.createdAt ?? '', passwordChangedAt: h.passwordChangedAt ?? '' };
}

function operatorOut(o: OperatorRecord): adminV1.Operator {
  return { name: o.name, role: o.role, createdAt: o.createdAt, passwordChangedAt: o.passwordChangedAt };
}

const newEpoch = () => randomBytes(12).toString('base64url');

export async function addOperator(core: Core, req: adminV1.AddOperatorRequest): Promise<adminV1.Operator> {
  const opKeys = opKeysOf(core.store.k);
  const name = checkOperatorName(req.name);
  if (name.toLowerCase() === CONSOLE_IDENTITY) throw adminError.invalid(`"${CONSOLE_IDENTITY}" is the console's own identity; choose another name`);
  if (!ROLES.has(req.role)) throw adminError.invalid('role must be ADMIN or VIEWER');
  const hash = checkHash(req.passwordHash);
  const now = new Date().toISOString();
  const rec: OperatorRecord = { name, role: req.role, hash, epoch: newEpoch(), createdAt: now, passwordChangedAt: now };
  // HSETNX on the name claims the account atomically; the other fields follow in the same transaction.
  const [[, created]] = (await core.store.redis.multi()
    .hsetnx(opKeys.one(name), 'name', name)
    .exec()) as Array<[Error | null, number]>;
  if (created !== 1) throw adminError.exists(`operator "${name}" exists; use set-password, or remove it first`);
  await core.store.redis.multi()
    .hset(opKeys.one(name), 'role', String(rec.role), 'hash', rec.hash, 'epoch', rec.epoch, 'createdAt', now, 'passwordChangedAt', now)
    .sadd(opKeys.all, name)
    .exec();
  return operatorOut(rec);
}

export async function listOperators(core: Core): Promise<adminV1.ListOperatorsResponse> {
  const opKeys = opKeysOf(core.store.k);
  const names = (await core.store.redis.smembers(opKeys.all)).sort();
  const all = await Promise.all(names.map((n) => loadOperator(core, n)));
  return { operators: all.filter((o): o is OperatorRecord => o !== undefined).map(operatorOut) };
}

/** Removes an account: its console sessions end at their next call. */
export async function removeOperator(core: Core, req: adminV1.RemoveOperatorRequest): Promise<adminV1.RemoveOperatorResponse> {
  const opKeys = opKeysOf(core.store.k);
  const name = checkOperatorName(req.name);
  const [[, n]] = (await core.store.redis.multi().del(opKeys.one(name)).srem(opKeys.all, name).del(opKeys.failures(name)).exec()) as Array<[Error | null, number]>;
  if (n !== 1) throw adminError.notFound(`no operator "${name}"`);
  return {};
}

/** Sets a new password hash and a new epoch: the account's console sessions end; its failed sign-ins are forgiven. */
export async function setOperatorPassword(core: Core, req: adminV1.SetOperatorPasswordRequest): Promise<adminV1.Operator> {
  const opKeys = opKeysOf(core.store.k);
  const name = checkOperatorName(req.name);
  const hash = checkHash(req.passwordHash);
  const o = await loadOperator(core, name);
  if (!o) throw adminError.notFound(`no operator "${name}"`);
  const now = new Date().toISOString();
  const epoch = newEpoch();
  await core.store.redis.multi().hset(opKeys.one(name), 'hash', hash, 'epoch', epoch, 'passwordChangedAt', now).del(opKeys.failures(name)).exec();
  return operatorOut({ ...o, hash, epoch, passwordChangedAt: now });
}

/** Bounds the memory and threads that sign-ins can take. */
class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= CONCURRENT) {
      if (this.waiting.length >= WAITING) throw new ServiceError(grpc.status.RESOURCE_EXHAUSTED, 'too many sign-ins at once; retry in a moment');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const gate = new Gate();
/** Verified against when the account does not exist, so that the answer takes as long either way. */
let decoy: Promise<string> | undefined;

const wrong = () => new ServiceError(grpc.status.UNAUTHENTICATED, 'wrong operator name or password');

export async function verifyOperatorPassword(core: Core, req: adminV1.VerifyOperatorPasswordRequest): Promise<adminV1.OperatorSession> {
  const opKeys = opKeysOf(core.store.k);
  if (!NAME.test(req.name)) throw wrong();
  const redis = core.store.redis;
  const failures = Number(await redis.get(opKeys.failures(req.name)) ?? 0);
  if (failures >= MAX_FAILURES) {
    const ttl = Math.max(1, await redis.ttl(opKeys.failures(req.name)));
    throw new ServiceError(grpc.status.RESOURCE_EXHAUSTED, `too many failed sign-ins for "${req.name}"; try again in ${Math.ceil(ttl / 60)} minute(s)`);
  }
  const o = await loadOperator(core, req.name);
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  const stored = o?.hash || (await decoy);
  const ok = await gate.run(() => verifyPassword(req.password, stored).catch(() => false));
  if (!o || !ok) {
    await redis.multi().incr(opKeys.failures(req.name)).expire(opKeys.failures(req.name), FAILURE_WINDOW_S, 'NX').exec();
    throw wrong();
  }
  await redis.del(opKeys.failures(req.name));
  return { operator: operatorOut(o), epoch: o.epoch };
}
