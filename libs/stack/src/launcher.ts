// The one stack launcher: `npm start` (scripts/start.js), the end-to-end and
// fault tests and the benchmarks start keywarden's services as processes
// through it (services in process, for unit and integration tests: see
// inprocess.ts).
//
//   Redis       one redis-server, or a master, replicas and 3 Sentinels
//               (key-lifecycle follows them, WAIT for one replica), or REDIS_URL
//   provider    the Key Protect emulator (API key and instance of its own), or SoftHSM2
//   services    crk-wrapping, key-lifecycle and kmip-gateway, each with a
//               replica count; callers reach every replica by round robin
//               (a gRPC target listing every address); the admin console
//
// Closed to other local users: only KMIP listens beyond loopback; Redis (and
// the Sentinels) want a generated password and the emulator a generated API
// key, both in 0600 files of the data directory (0700), never on a command line.
//
// DIR/stack.json records every component's name, role, pid and ports while
// it runs; a persistent stack keeps its ports there across restarts, and
// DIR/stack.lock keeps a second launcher off the directory.
import { spawnSync } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { channelCredentials, channelOptions, checkHealth, ensureDevPki, grpc, loadTlsFiles } from '@keywarden/common';
import { adminV1 } from '@keywarden/proto';
import { DataDirLock, lockDataDir, processAlive } from './lock';
import { PortBook, portKey } from './ports';
import { ChildProc, ChildSpec, sleep, StartError, tcpReady } from './proc';
import { startRedis, TestRedis } from './redis';
import { startSentinelSet, TestSentinelSet } from './sentinel';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export type ServiceName = 'crk-wrapping' | 'key-lifecycle' | 'kmip-gateway';

export interface LaunchOptions {
  /** State, PKI (DIR/pki), logs (DIR/logs), stack.json. Created 0700. */
  dataDir: string;
  /** Hold DIR/stack.lock and keep the ports saved in stack.json (default true: npm start). */
  persistent?: boolean;
  /** New ports prefer npm start's defaults (7001, 7002, ...) when free (default: persistent). */
  preferDefaultPorts?: boolean;
  /** Regional HA on one machine: two replicas of every service, Redis master + replica + 3 Sentinels. */
  ha?: boolean;
  /** Replicas per service (default 1; 2 with `ha`). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Redis: one server (default), Sentinel (default with `ha`), or one that runs already. */
  redis?: 'single' | 'sentinel' | { url: string; passwordFile?: string };
  /** Root-key provider of the first tenant (default emulator). */
  provider?: 'emulator' | 'softhsm';
  /** One KMIP port per gateway replica; 0 = a free one. Default 5696 (5697 for the second). */
  kmipPorts?: number[];
  /** Address the gateways bind (default 0.0.0.0). */
  kmipHost?: string;
  /** The admin console (default true). */
  console?: boolean;
  /** The first tenant (created with a root key, pki/client.crt registered); default "default". */
  tenantId?: string;
  /** Added to every service's environment (below what the launcher sets for it). */
  env?: NodeJS.ProcessEnv;
  /** Node options per component, e.g. --cpu-prof for a benchmark. */
  nodeArgs?: (name: string, role: string) => string[];
  /** A component that exits on its own: stop the stack (default) or start it again (default with `ha`). */
  onExit?: 'stop' | 'restart';
  /** Sentinel timings (default down-after 1500 ms, failover-timeout 3000 ms). */
  sentinel?: { downAfterMs?: number; failoverTimeoutMs?: number };
  /** Service output on this terminal instead of DIR/logs. */
  verbose?: boolean;
  /** Progress and failure lines ("keywarden: ..."). */
  log?: (line: string) => void;
}

/** One entry of stack.json's `components`. */
export interface ComponentRecord {
  name: string;
  role: string;
  pid: number | null;
  ports: Record<string, number>;
  log: string;
}

export interface StackState {
  /** Ports by key (lifecyclePort, lifecycle2Port, redisPort, sentinel2Port, ...): kept across restarts. */
  [port: string]: unknown;
  instanceId?: string;
  topology?: 'single' | 'ha';
  provider?: 'emulator' | 'softhsm';
  /** pid of the launcher while it runs. */
  pid?: number | null;
  kmipPorts?: number[];
  components?: ComponentRecord[];
}

/** What a failed start says: which port, and what to do. */
export class PortTakenError extends Error {}

const SERVICE_PORT_BASE: Record<ServiceName | 'admin-console', string[]> = {
  'crk-wrapping': ['wrappingPort', 'wrappingHealthPort', 'wrappingMetricsPort'],
  'key-lifecycle': ['lifecyclePort', 'lifecycleHealthPort', 'lifecycleMetricsPort'],
  'kmip-gateway': ['gatewayHealthPort', 'gatewayMetricsPort'],
  'admin-console': ['consolePort', 'consoleHealthPort'],
};

/** An Admin request completed with its message's defaults: ts-proto encodes only whole messages. */
export function completeRequest(method: string, req: unknown): unknown {
  const type = `${method[0].toUpperCase()}${method.slice(1)}Request`;
  const m = (adminV1 as unknown as Record<string, { fromPartial?: (o: unknown) => unknown }>)[type];
  return m?.fromPartial ? m.fromPartial(req) : req;
}

/** A secret kept in a 0600 file of the data directory, generated on first use. */
export function localSecret(file: string): string {
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  fs.chmodSync(file, 0o600);
  return fs.readFileSync(file, 'utf8').trim();
}

function readState(file: string): StackState {
  if (!fs.existsSync(file)) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as StackState;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); fix it or remove it (its ports are then chosen again)`);
  }
}

function savedPorts(st: StackState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(st)) if (/Port$/.test(k) && k !== 'kmipPort' && !/^kmip\d+Port$/.test(k) && Number.isInteger(v)) out[k] = v as number;
  return out;
}

/** The command line of a live process, or '' (gone, or not readable). */
function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/**
 * A running stack. start() brings the components up in order (Redis, the
 * provider, crk-wrapping, key-lifecycle, the first tenant, the gateways, the
 * console); stop() takes them down in reverse.
 */
export class Stack {
  readonly dataDir: string;
  readonly pkiDir: string;
  readonly statePath: string;
  readonly topology: 'single' | 'ha';
  readonly replicas: Record<ServiceName, number>;
  readonly components: ChildProc[] = [];
  internalDir = '';
  kmipPorts: number[] = [];
  emulatorUrl?: string;
  emulatorApiKey?: string;
  consoleUrl?: string;
  instanceId = '';
  tenantId: string;
  redis?: TestRedis;
  sentinel?: TestSentinelSet;
  redisPasswordFile?: string;
  /** Called once when a component exits on its own and the stack cannot go on (onExit stop, or restarts failing). */
  onFailure?: (component: string, message: string) => void;
  private state: StackState = {};
  private book!: PortBook;
  private lock?: DataDirLock;
  private stopping = false;
  private started = false;
  private readonly log: (line: string) => void;
  private readonly restarts = new Map<string, number[]>();

  constructor(readonly opts: LaunchOptions) {
    this.dataDir = path.resolve(opts.dataDir);
    this.pkiDir = path.join(this.dataDir, 'pki');
    this.statePath = path.join(this.dataDir, 'stack.json');
    this.topology = opts.ha ? 'ha' : 'single';
    const n = opts.ha ? 2 : 1;
    this.replicas = {
      'crk-wrapping': opts.replicas?.['crk-wrapping'] ?? n,
      'key-lifecycle': opts.replicas?.['key-lifecycle'] ?? n,
      'kmip-gateway': opts.replicas?.['kmip-gateway'] ?? n,
    };
    this.tenantId = opts.tenantId ?? 'default';
    this.log = opts.log ?? (() => undefined);
  }

  private get persistent(): boolean { return this.opts.persistent ?? true; }
  private get redisMode(): 'single' | 'sentinel' | 'url' {
    const r = this.opts.redis;
    if (typeof r === 'object') return 'url';
    return r ?? (this.opts.ha ? 'sentinel' : 'single');
  }

  /** Address of the Admin API (the first key-lifecycle), as the CLI finds it in stack.json. */
  get adminAddress(): string { return `localhost:${this.book.saved.lifecyclePort}`; }

  component(name: string): ChildProc | undefined { return this.components.find((c) => c.name === name); }
  byRole(role: string): ChildProc[] { return this.components.filter((c) => c.role === role); }

  /** pids by component name, e.g. for CPU accounting. */
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.components) if (c.pid !== undefined) out[c.name] = c.pid;
    return out;
  }

  async start(): Promise<this> {
    const o = this.opts;
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    // Nothing in the directory is touched before the lock is ours.
    if (this.persistent) this.lock = lockDataDir(this.dataDir);
    try {
      this.state = readState(this.statePath);
      if (this.persistent && this.state.topology && this.state.topology !== this.topology) {
        throw new Error(`${this.dataDir} holds a ${this.state.topology === 'ha' ? 'regional HA (--ha)' : 'single'} stack; start it ${this.state.topology === 'ha' ? 'with' : 'without'} --ha, or give this one another --data-dir`);
      }
      // Data directories from before stack.json named the provider had the emulator's.
      const provider = o.provider ?? 'emulator';
      const had = this.state.provider ?? (fs.existsSync(path.join(this.dataDir, `${this.tenantId}-tenant.json`)) ? 'emulator' : undefined);
      if (this.persistent && had && had !== provider) {
        throw new Error(`${this.dataDir} holds a stack whose tenant "${this.tenantId}" has its root key in ${had === 'softhsm' ? 'SoftHSM2' : 'the emulator'}; start it with --provider ${had}, or give this one another --data-dir`);
      }
      this.book = new PortBook(this.persistent ? savedPorts(this.state) : {}, o.preferDefaultPorts ?? this.persistent);
      await this.checkSavedPorts();
      this.prepareFiles();
      await this.startRedis();
      this.checkStopping();
      await this.startProvider();
      this.checkStopping();
      await this.startReplicas('crk-wrapping', (i) => this.wrappingSpec(i));
      this.checkStopping();
      await this.startReplicas('key-lifecycle', (i) => this.lifecycleSpec(i));
      this.checkStopping();
      await this.ensureFirstTenant();
      this.checkStopping();
      await this.startReplicas('kmip-gateway', (i) => this.gatewaySpec(i));
      this.checkStopping();
      if (o.console ?? true) {
        await this.startComponent(() => this.consoleSpec(), this.keysOf('admin-console', 1));
        this.consoleUrl = `https://localhost:${this.book.saved.consolePort}/`;
      }
      this.started = true;
      this.writeState();
      return this;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private checkStopping(): void {
    if (this.stopping) throw new Error('stopped while starting');
  }

  /** Every saved port must be free: a moved port would leave tenants or the CLI pointing at nothing. */
  private async checkSavedPorts(): Promise<void> {
    if (!this.persistent) return;
    const taken = await this.book.taken(Object.keys(this.book.saved));
    if (taken.length === 0) return;
    const prev = (this.state.components ?? []).filter((c) => c.pid && processAlive(c.pid) && cmdline(c.pid) !== '');
    const rel = path.relative(process.cwd(), this.statePath) || this.statePath;
    const lines = taken.map(({ key, port }) => {
      const holder = prev.find((c) => Object.values(c.ports).includes(port));
      const who = holder ? `by ${holder.name} (pid ${holder.pid}) of an earlier run of this stack that is still running: kill ${holder.pid}`
        : `by another program (\`ss -ltnp 'sport = :${port}'\` names it): stop it`;
      const move = key === 'emulatorPort'
        ? 'the emulator keeps its port: it is part of the tenants\' provider URLs'
        : `or delete "${key}" from ${rel} and a free port is chosen`;
      return `port ${port} (${key} in ${rel}) is taken ${who}, ${move}`;
    });
    throw new PortTakenError(`cannot start: ${lines.join('; ')}`);
  }

  private prepareFiles(): void {
    const pki = ensureDevPki(this.pkiDir);
    this.internalDir = pki.internalDir;
    if (pki.migrated) this.log(`keywarden: ${this.pkiDir} now has two CAs: ca.crt stays the KMIP CA (vCenter's trust and registered client certificates keep working); the services and the CLI use a new internal CA in ${this.internalDir}`);
    const masterFile = path.join(this.dataDir, 'master.key');
    if (!fs.existsSync(masterFile)) fs.writeFileSync(masterFile, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    this.state.instanceId ??= crypto.randomUUID();
    this.instanceId = this.state.instanceId;
    fs.mkdirSync(this.logDir, { recursive: true });
  }

  get logDir(): string { return path.join(this.dataDir, 'logs'); }

  /** The directory credential_ref file: references may name (WRAPPING_CREDENTIALS_DIR), unless the environment sets one. */
  get credentialsDir(): string {
    const fromEnv = this.opts.env?.WRAPPING_CREDENTIALS_DIR ?? process.env.WRAPPING_CREDENTIALS_DIR;
    if (fromEnv) return fromEnv;
    const d = path.join(this.dataDir, 'credentials');
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.chmodSync(d, 0o700);
    return d;
  }

  // ---- Redis

  private async startRedis(): Promise<void> {
    const r = this.opts.redis;
    if (typeof r === 'object') {
      this.redisPasswordFile = r.passwordFile;
      return;
    }
    if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) {
      throw new Error('redis-server not found: install the redis-server package (e.g. `apt-get install redis-server`) or set REDIS_URL');
    }
    this.redisPasswordFile = path.join(this.dataDir, 'redis.password');
    const password = localSecret(this.redisPasswordFile);
    if (this.redisMode === 'single') {
      await this.book.get('redisPort');
      this.redis = await this.withPortRetry(['redisPort'], () => startRedis({
        port: this.book.saved.redisPort, dir: path.join(this.dataDir, 'redis'), password,
        confFile: path.join(this.dataDir, 'redis.conf'), logFile: path.join(this.logDir, 'redis.log'), name: 'redis', role: 'redis',
      }));
      this.adopt(this.redis.proc);
      return;
    }
    const nodeKeys = ['redisPort', 'redis2Port'];
    const sentinelKeys = [1, 2, 3].map((i) => portKey('sentinelPort', i));
    for (const k of [...nodeKeys, ...sentinelKeys]) await this.book.get(k);
    this.sentinel = await startSentinelSet({
      dir: this.dataDir, logDir: this.logDir, password, protectSentinels: true, name: 'keywarden',
      nodePorts: nodeKeys.map((k) => this.book.saved[k]), sentinelPorts: sentinelKeys.map((k) => this.book.saved[k]),
      downAfterMs: this.opts.sentinel?.downAfterMs ?? 1500, failoverTimeoutMs: this.opts.sentinel?.failoverTimeoutMs ?? 3000,
    });
    for (const n of this.sentinel.nodes) this.adopt(n.proc);
    for (const p of this.sentinel.sentinelProcs) this.adopt(p);
    await this.sentinel.waitReady(30_000);
  }

  /** Redis settings for key-lifecycle. */
  private redisEnv(): NodeJS.ProcessEnv {
    const r = this.opts.redis;
    const pw = this.redisPasswordFile ? { REDIS_PASSWORD_FILE: this.redisPasswordFile } : {};
    if (typeof r === 'object') return { REDIS_URL: r.url, ...pw };
    if (this.sentinel) {
      return {
        REDIS_SENTINELS: this.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_MASTER: this.sentinel.name,
        REDIS_SENTINEL_PASSWORD_FILE: this.redisPasswordFile, REDIS_WAIT_REPLICAS: '1', ...pw,
      };
    }
    return { REDIS_URL: `redis://127.0.0.1:${this.book.saved.redisPort}`, ...pw };
  }

  // ---- the root-key provider

  private async startProvider(): Promise<void> {
    if ((this.opts.provider ?? 'emulator') === 'softhsm') return this.prepareSoftHsm();
    const apiKeyFile = path.join(this.dataDir, 'emulator-api-key');
    this.hadApiKey = fs.existsSync(apiKeyFile);
    this.emulatorApiKey = localSecret(apiKeyFile);
    await this.startComponent(() => {
      const port = this.book.saved.emulatorPort;
      return {
        ...this.nodeSpec('keyprotect-emulator', 'keyprotect-emulator', 'services/keyprotect-emulator/dist/main.js', {}, [
          '--port', String(port), '--host', '127.0.0.1', '--data-dir', path.join(this.dataDir, 'emulator'), '--api-key-file', apiKeyFile,
          '--instance', this.instanceId,
        ]),
        ports: { http: port }, ready: () => tcpReady(port), readyTimeoutMs: 15_000,
      };
    }, ['emulatorPort']);
    this.emulatorUrl = `http://127.0.0.1:${this.book.saved.emulatorPort}`;
  }

  private hadApiKey = true;
  private softhsm?: { conf: string; module: string; label: string; pin: string };

  /** A SoftHSM2 token of the stack's own in DIR/softhsm (PIN in a 0600 file), made once. */
  private async prepareSoftHsm(): Promise<void> {
    const dir = path.join(this.dataDir, 'softhsm');
    const tokens = path.join(dir, 'tokens');
    fs.mkdirSync(tokens, { recursive: true, mode: 0o700 });
    const conf = path.join(dir, 'softhsm2.conf');
    fs.writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
    const pin = localSecret(path.join(this.dataDir, 'softhsm-pin')).slice(0, 32);
    const label = 'keywarden';
    if (fs.readdirSync(tokens).length === 0) {
      const { execFileSync } = await import('child_process');
      try {
        execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', crypto.randomBytes(12).toString('hex'), '--pin', pin],
          { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' });
      } catch (e) {
        throw new Error(`cannot create a SoftHSM2 token (${(e as Error).message}): install the softhsm2 package`);
      }
    }
    const { DEFAULT_PKCS11_MODULES } = await import('@keywarden/crk-wrapping');
    const module = DEFAULT_PKCS11_MODULES.find((m) => fs.existsSync(m));
    if (!module) throw new Error(`SoftHSM2's module is not in ${DEFAULT_PKCS11_MODULES.join(', ')}: install the softhsm2 package`);
    this.softhsm = { conf, module, label, pin };
  }

  // ---- the services

  private nodeSpec(name: string, role: string, script: string, env: NodeJS.ProcessEnv, args: string[] = []): Omit<ChildSpec, 'ports' | 'ready'> {
    return {
      name, role, command: process.execPath,
      args: [...(this.opts.nodeArgs?.(name, role) ?? []), path.join(ROOT, script), ...args],
      env: { ...process.env, ...this.opts.env, ...env },
      logFile: path.join(this.logDir, `${name}.log`), inheritOutput: this.opts.verbose,
    };
  }

  private replicaName(svc: ServiceName, i: number): string {
    return this.replicas[svc] > 1 ? `${svc}-${i}` : svc;
  }

  private keysOf(svc: ServiceName | 'admin-console', i: number): string[] {
    return SERVICE_PORT_BASE[svc].map((b) => portKey(b, i));
  }

  /** A gRPC target for every replica: host:port for one, an ipv4: list (round robin) for several. */
  private target(base: string, svc: ServiceName): string {
    const ports = Array.from({ length: this.replicas[svc] }, (_, k) => this.book.saved[portKey(base, k + 1)]);
    return ports.length === 1 ? `localhost:${ports[0]}` : `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  private grpcReady(port: number): () => Promise<boolean> {
    const creds = channelCredentials(loadTlsFiles(this.internalDir, 'admin'));
    return async () => (await checkHealth(`localhost:${port}`, creds)) === 'SERVING';
  }

  private wrappingSpec(i: number): ChildSpec {
    const [addr, health, metrics] = this.keysOf('crk-wrapping', i).map((k) => this.book.saved[k]);
    const hsm = this.softhsm;
    return {
      ...this.nodeSpec(this.replicaName('crk-wrapping', i), 'crk-wrapping', 'services/crk-wrapping/dist/main.js', {
        WRAPPING_ADDR: `127.0.0.1:${addr}`, WRAPPING_TLS_DIR: this.internalDir, METRICS_HOST: '127.0.0.1',
        KEYWARDEN_MASTER_KEY_FILE: path.join(this.dataDir, 'master.key'), METRICS_PORT: String(metrics), WRAPPING_ALLOW_HTTP: 'true',
        HEALTH_ADDR: `127.0.0.1:${health}`, WRAPPING_CREDENTIALS_DIR: this.credentialsDir,
        ...(this.emulatorUrl ? { WRAPPING_PROVIDER_HOSTS: new URL(this.emulatorUrl).host } : {}),
        ...(hsm ? { SOFTHSM2_CONF: hsm.conf } : {}),
      }),
      ports: { grpc: addr, health, metrics }, ready: this.grpcReady(addr),
    };
  }

  private lifecycleSpec(i: number): ChildSpec {
    const [addr, health, metrics] = this.keysOf('key-lifecycle', i).map((k) => this.book.saved[k]);
    return {
      ...this.nodeSpec(this.replicaName('key-lifecycle', i), 'key-lifecycle', 'services/key-lifecycle/dist/main.js', {
        LIFECYCLE_ADDR: `127.0.0.1:${addr}`, LIFECYCLE_TLS_DIR: this.internalDir, METRICS_HOST: '127.0.0.1', ...this.redisEnv(),
        WRAPPING_ADDR: this.target('wrappingPort', 'crk-wrapping'), METRICS_PORT: String(metrics), HEALTH_ADDR: `127.0.0.1:${health}`,
      }),
      ports: { grpc: addr, health, metrics }, ready: this.grpcReady(addr),
    };
  }

  private gatewaySpec(i: number): ChildSpec {
    const [health, metrics] = this.keysOf('kmip-gateway', i).map((k) => this.book.saved[k]);
    const kmip = this.kmipPorts[i - 1];
    return {
      ...this.nodeSpec(this.replicaName('kmip-gateway', i), 'kmip-gateway', 'services/kmip-gateway/dist/main.js', {
        GATEWAY_TLS_DIR: this.pkiDir, GATEWAY_INTERNAL_TLS_DIR: this.internalDir, METRICS_HOST: '127.0.0.1',
        KMIP_PORT: String(kmip), KMIP_HOST: this.opts.kmipHost ?? '0.0.0.0',
        LIFECYCLE_ADDR: this.target('lifecyclePort', 'key-lifecycle'), METRICS_PORT: String(metrics), HEALTH_ADDR: `127.0.0.1:${health}`,
      }),
      ports: { kmip, health, metrics },
      ready: async () => (await checkHealth(`127.0.0.1:${health}`, grpc.credentials.createInsecure())) === 'SERVING',
    };
  }

  private consoleSpec(): ChildSpec {
    const [addr, health] = this.keysOf('admin-console', 1).map((k) => this.book.saved[k]);
    return {
      ...this.nodeSpec('admin-console', 'admin-console', 'services/admin-console/dist/main.js', {
        CONSOLE_ADDR: `127.0.0.1:${addr}`, CONSOLE_TLS_DIR: this.internalDir, LIFECYCLE_ADDR: this.target('lifecyclePort', 'key-lifecycle'),
        CONSOLE_HTTPS_CERT_FILE: path.join(this.pkiDir, 'console-server.crt'), CONSOLE_HTTPS_KEY_FILE: path.join(this.pkiDir, 'console-server.key'),
        HEALTH_ADDR: `127.0.0.1:${health}`,
      }),
      ports: { https: addr, health },
      ready: async () => (await fetch(`http://127.0.0.1:${health}/readyz`)).ok,
    };
  }

  private async startReplicas(svc: ServiceName, spec: (i: number) => ChildSpec): Promise<void> {
    const n = this.replicas[svc];
    if (svc === 'kmip-gateway') await this.chooseKmipPorts(n);
    // Every replica's ports first: each one's callers are given all of them.
    for (let i = 1; i <= n; i++) for (const k of this.keysOf(svc, i)) await this.book.get(k);
    await Promise.all(Array.from({ length: n }, (_, k) => this.startComponent(() => spec(k + 1), this.keysOf(svc, k + 1))));
  }

  private async chooseKmipPorts(n: number): Promise<void> {
    const given = this.opts.kmipPorts ?? [];
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = i === 0 ? 'kmipPort' : `kmip${i + 1}Port`;
      let p = given[i] ?? (i === 0 ? 5696 : out[0] + i);
      if (p === 0) p = await this.book.choose(key);
      out.push(p);
      this.state[key] = p;
    }
    this.kmipPorts = out;
  }

  /**
   * Starts one component (spec built from the port book each try) and
   * watches it. A bind race on a port chosen in this run (another program
   * took it between the choice and the bind) is retried with new ports.
   */
  private async startComponent(spec: () => ChildSpec, portKeys: string[] = []): Promise<ChildProc> {
    for (const k of portKeys) await this.book.get(k);
    return this.withPortRetry(portKeys, async () => {
      const c = new ChildProc(spec());
      this.adopt(c);
      try {
        await c.start();
      } catch (e) {
        this.components.splice(this.components.indexOf(c), 1);
        throw e;
      }
      return c;
    });
  }

  private async withPortRetry<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const fresh = keys.filter((k) => this.book.fresh.has(k));
        if (!(e instanceof StartError) || !/EADDRINUSE|Address already in use/i.test(e.why) || fresh.length === 0 || attempt >= 2) throw e;
        this.log(`keywarden: ${e.component.name}: a port chosen a moment ago was taken meanwhile; trying other ports`);
        for (const k of fresh) await this.book.choose(k);
      }
    }
  }

  /** Watches a component: an exit nobody asked for stops the stack, or starts the component again. */
  private adopt(c: ChildProc): void {
    this.components.push(c);
    c.onUnexpectedExit = (proc, code, signal) => {
      if (this.stopping) return;
      const why = proc.lastLine();
      this.log(`keywarden: ${proc.name} exited unexpectedly (${signal || code})${why ? `: ${why}` : ''}; see ${proc.logPath}`);
      if (/EADDRINUSE/.test(why) && proc.role === 'kmip-gateway') this.log('keywarden: a port is taken by another program; KMIP_PORT=<port> npm start uses another KMIP port');
      if (!this.started) return; // start() reports it
      if ((this.opts.onExit ?? (this.opts.ha ? 'restart' : 'stop')) === 'restart') void this.restart(proc);
      else this.onFailure?.(proc.name, `${proc.name} exited`);
    };
  }

  /** Starts a component that died again (a Redis node as a replica of the current master); gives up after 5 tries in a minute. */
  private async restart(c: ChildProc): Promise<void> {
    const now = Date.now();
    const recent = [...(this.restarts.get(c.name) ?? []), now].filter((t) => now - t < 60_000);
    this.restarts.set(c.name, recent);
    if (recent.length > 5) {
      this.onFailure?.(c.name, `${c.name} keeps exiting (${recent.length} times in a minute)`);
      return;
    }
    await sleep(500);
    if (this.stopping) return;
    try {
      const node = this.sentinel?.nodes.find((n) => n.proc === c);
      if (node) await this.sentinel!.rejoin(node.port);
      else await c.start();
      this.log(`keywarden: ${c.name} restarted (pid ${c.pid})`);
      this.writeState();
    } catch (e) {
      if (this.stopping) return;
      this.log(`keywarden: ${c.name} did not restart: ${(e as Error).message}`);
      void this.restart(c);
    }
  }

  /** Stops a component on purpose (it is not restarted), e.g. the provider for an outage test. */
  async pause(name: string): Promise<void> {
    const c = this.component(name);
    if (!c) throw new Error(`no component ${name}`);
    await c.stop();
    this.writeState();
  }

  /** Starts a paused component again. */
  async resume(name: string): Promise<void> {
    const c = this.component(name);
    if (!c) throw new Error(`no component ${name}`);
    await c.start();
    this.writeState();
  }

  // ---- the first tenant

  private adminClient(): adminV1.AdminClient {
    return new adminV1.AdminClient(this.adminAddress, channelCredentials(loadTlsFiles(this.internalDir, 'admin')), channelOptions());
  }

  /** A call on the Admin API (as the operator "admin" of the dev PKI); the request is completed with defaults. */
  async adminCall<Res>(method: keyof adminV1.AdminClient, req: unknown): Promise<Res> {
    const client = this.adminClient();
    try {
      return await new Promise<Res>((resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        (client as any)[method](completeRequest(String(method), req), { deadline: Date.now() + 30_000 }, (e: Error | null, r: Res) => (e ? reject(e) : resolve(r)));
      });
    } finally {
      client.close();
    }
  }

  /**
   * First run: the first tenant with a root key in the provider, and the dev
   * client certificate (pki/client.crt) registered. A data directory from
   * before the emulator had its own API key gets the new key as the tenant's
   * credential.
   */
  private async ensureFirstTenant(): Promise<void> {
    const marker = path.join(this.dataDir, `${this.tenantId}-tenant.json`);
    const exists = fs.existsSync(marker);
    const id = this.tenantId;
    if (exists && this.hadApiKey) return;
    if (exists) {
      try {
        await this.adminCall('updateTenant', { tenantId: id, credential: this.emulatorApiKey });
        this.log(`keywarden: the emulator now requires its own API key (${path.join(this.dataDir, 'emulator-api-key')}); tenant "${id}" uses it`);
      } catch (e) {
        if ((e as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw e;
      }
      return;
    }
    const hsm = this.softhsm;
    const provider = hsm
      ? { kind: adminV1.ProviderKind.PROVIDER_KIND_PKCS11, endpoint: hsm.module, iamEndpoint: '', instanceId: hsm.label, crkId: '' }
      : { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: this.emulatorUrl, iamEndpoint: this.emulatorUrl, instanceId: this.instanceId, crkId: '' };
    const what = hsm ? 'SoftHSM2' : 'the emulator';
    try {
      await this.adminCall('createTenant', {
        id, name: hsm ? 'Default tenant (local SoftHSM2)' : 'Default tenant (local emulator)', provider,
        credential: hsm ? hsm.pin : this.emulatorApiKey, createRootKey: true,
      });
    } catch (e) {
      if ((e as grpc.ServiceError).code !== grpc.status.ALREADY_EXISTS) throw e;
    }
    try {
      await this.adminCall('addCertificate', { tenantId: id, pem: fs.readFileSync(path.join(this.pkiDir, 'client.crt'), 'utf8') });
    } catch (e) {
      if ((e as grpc.ServiceError).code !== grpc.status.ALREADY_EXISTS) throw e;
    }
    fs.writeFileSync(marker, JSON.stringify({ tenant: id, createdAt: new Date().toISOString() }, null, 2) + '\n');
    this.log(`keywarden: created tenant "${id}" with a root key in ${what} and registered pki/client.crt`);
  }

  // ---- stack.json

  /** Ports, ids and, while it runs, every component with its pid. */
  private writeState(): void {
    // A start that failed before any component ran leaves stack.json as it was.
    if (!this.book || (!this.started && this.components.length === 0)) return;
    const running = this.started && !this.stopping;
    const st: StackState = {
      ...this.state, ...this.book.saved,
      topology: this.topology, provider: this.opts.provider ?? 'emulator', kmipPorts: this.kmipPorts,
      pid: running ? process.pid : null,
      components: this.components.map((c) => ({ name: c.name, role: c.role, pid: running ? c.pid ?? null : null, ports: c.ports, log: c.logPath })),
    };
    this.state = st;
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(st, null, 2) + '\n');
    fs.renameSync(tmp, this.statePath);
  }

  /** Stops everything, gateways first (they drain), Redis last; keeps the data. */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.stopped = (async () => {
      for (const c of [...this.components].reverse()) {
        if (c.role === 'redis' || c.role === 'sentinel') continue;
        await c.stop();
      }
      await Promise.all(this.components.filter((c) => c.role === 'sentinel').map((c) => c.stop(5000)));
      await Promise.all(this.components.filter((c) => c.role === 'redis').map((c) => c.stop(15_000)));
      try {
        this.writeState();
      } finally {
        this.lock?.release();
      }
    })();
    return this.stopped;
  }

  private stopped: Promise<void> = Promise.resolve();
}

/** Starts a stack; on failure everything it started is stopped again. */
export async function launchStack(opts: LaunchOptions): Promise<Stack> {
  return new Stack(opts).start();
}
