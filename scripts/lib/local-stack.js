// The local stack behind `npm start`: Redis (REDIS_URL or a local
// redis-server), the Key Protect emulator, crk-wrapping, key-lifecycle, the
// KMIP gateway and the admin console, each its own process, mTLS between
// them, state in one data directory. Uses the built output (dist/) of every
// workspace.
//
// Closed to other local users by default: only KMIP listens beyond loopback;
// Redis needs a generated password and the emulator a generated API key, both
// in 0600 files of the data directory (0700), never on a command line.
'use strict';
const { spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const dist = (p) => path.join(root, p);

function requireBuilt(p) {
  try {
    return require(dist(p));
  } catch (e) {
    throw new Error(`cannot load ${p}: run \`npm run build\` first (${e.message})`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function choosePort(preferred) {
  return (await portFree(preferred)) ? preferred : freePort();
}

function tcpReady(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function waitFor(what, check, timeoutMs, child) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}; see its log`);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`${what} did not become ready within ${timeoutMs / 1000} s; see its log`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Stable settings for this data directory: ports and ids chosen once, kept across restarts. */
async function loadState(dataDir, kmipPort) {
  const file = path.join(dataDir, 'stack.json');
  let state = {};
  if (fs.existsSync(file)) state = JSON.parse(fs.readFileSync(file, 'utf8'));
  const want = { redisPort: 7379, emulatorPort: 7080, wrappingPort: 7002, lifecyclePort: 7001, gatewayHealthPort: 7411, lifecycleHealthPort: 7412, wrappingHealthPort: 7413, gatewayMetricsPort: 9401, lifecycleMetricsPort: 9402, wrappingMetricsPort: 9403, consolePort: 8443, consoleHealthPort: 7414 };
  for (const [k, v] of Object.entries(want)) {
    if (state[k] === undefined || !(await portFree(state[k]))) state[k] = await choosePort(v);
  }
  state.kmipPort = kmipPort;
  state.instanceId ??= crypto.randomUUID();
  fs.writeFileSync(file, JSON.stringify(state, null, 2) + '\n');
  return state;
}

/** A secret kept in a 0600 file of the data directory, generated on first use. */
function localSecret(file) {
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  fs.chmodSync(file, 0o600);
  return fs.readFileSync(file, 'utf8').trim();
}

function redisServerPath() {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

class LocalStack {
  constructor(opts) {
    this.dataDir = path.resolve(opts.dataDir || 'var');
    this.kmipPort = opts.kmipPort ?? 5696;
    this.redisUrl = opts.redisUrl;
    this.log = opts.log || (() => undefined);
    this.verbose = !!opts.verbose;
    this.children = [];
    this.stopping = false;
  }

  spawnService(name, script, args, env) {
    const logDir = path.join(this.dataDir, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    const out = fs.openSync(path.join(logDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', this.verbose ? 'inherit' : out, this.verbose ? 'inherit' : out],
    });
    fs.closeSync(out);
    child.name = name;
    child.on('exit', (code, signal) => {
      if (!this.stopping) {
        const logFile = path.join(logDir, name + '.log');
        const why = lastLogLine(logFile);
        this.log(`keywarden: ${name} exited unexpectedly (${signal || code})${why ? `: ${why}` : ''}; see ${logFile}`);
        if (/EADDRINUSE/.test(why)) this.log('keywarden: a port is taken by another program; KMIP_PORT=<port> npm start uses another KMIP port');
      }
      if (!this.stopping && this.onUnexpectedExit) this.onUnexpectedExit(name);
    });
    this.children.push(child);
    return child;
  }

  async start() {
    const common = requireBuilt('libs/common/dist/index.js');
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const pkiDir = path.join(this.dataDir, 'pki');
    const pki = common.ensureDevPki(pkiDir);
    const internalDir = pki.internalDir;
    if (pki.migrated) this.log(`keywarden: ${pkiDir} now has two CAs: ca.crt stays the KMIP CA (vCenter's trust and registered client certificates keep working); the services and the CLI use a new internal CA in ${internalDir}`);
    const masterFile = path.join(this.dataDir, 'master.key');
    if (!fs.existsSync(masterFile)) fs.writeFileSync(masterFile, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    const st = await loadState(this.dataDir, this.kmipPort);
    this.state = st;

    // Redis
    let redisUrl = this.redisUrl;
    if (!redisUrl) {
      const bin = redisServerPath();
      if (!bin) throw new Error('redis-server not found: install the redis-server package (e.g. `apt-get install redis-server`) or set REDIS_URL');
      const redisDir = path.join(this.dataDir, 'redis');
      fs.mkdirSync(redisDir, { recursive: true, mode: 0o700 });
      const logDir = path.join(this.dataDir, 'logs');
      fs.mkdirSync(logDir, { recursive: true });
      // The password goes in a config file (0600), not on the command line where any local user could read it.
      const redisPassword = localSecret(path.join(this.dataDir, 'redis.password'));
      const conf = path.join(this.dataDir, 'redis.conf');
      fs.writeFileSync(conf, `requirepass ${redisPassword}\n`, { mode: 0o600 });
      fs.chmodSync(conf, 0o600);
      this.redisPasswordFile = path.join(this.dataDir, 'redis.password');
      const child = spawn(bin, [conf, '--port', String(st.redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes',
        '--appendfsync', 'always', '--save', '', '--logfile', path.join(logDir, 'redis.log'), '--protected-mode', 'yes'], { stdio: 'ignore' });
      child.name = 'redis';
      this.children.push(child);
      child.on('exit', (code) => { if (!this.stopping) this.log(`keywarden: redis-server exited unexpectedly (${code})`); });
      await waitFor('redis-server', () => tcpReady(st.redisPort), 15000, child);
      redisUrl = `redis://127.0.0.1:${st.redisPort}`;
    }
    this.redisUrlInUse = redisUrl;

    const emulatorUrl = `http://127.0.0.1:${st.emulatorPort}`;
    // The emulator accepts one API key, generated here: the default tenant's (sealed) credential.
    const apiKeyFile = path.join(this.dataDir, 'emulator-api-key');
    const hadApiKey = fs.existsSync(apiKeyFile);
    this.emulatorApiKey = localSecret(apiKeyFile);
    const emu = this.spawnService('keyprotect-emulator', dist('services/keyprotect-emulator/dist/main.js'),
      ['--port', String(st.emulatorPort), '--host', '127.0.0.1', '--data-dir', path.join(this.dataDir, 'emulator'), '--api-key-file', apiKeyFile,
        '--instance', st.instanceId], {});
    await waitFor('keyprotect-emulator', () => tcpReady(st.emulatorPort), 15000, emu);

    const grpcCreds = () => common.channelCredentials(common.loadTlsFiles(internalDir, 'admin'));
    const wrap = this.spawnService('crk-wrapping', dist('services/crk-wrapping/dist/main.js'), [], {
      WRAPPING_ADDR: `127.0.0.1:${st.wrappingPort}`, WRAPPING_TLS_DIR: internalDir, METRICS_HOST: '127.0.0.1', KEYWARDEN_MASTER_KEY_FILE: masterFile,
      METRICS_PORT: String(st.wrappingMetricsPort), WRAPPING_ALLOW_HTTP: 'true', HEALTH_ADDR: `127.0.0.1:${st.wrappingHealthPort}`,
      WRAPPING_PROVIDER_HOSTS: `127.0.0.1:${st.emulatorPort}`,
    });
    await waitFor('crk-wrapping', async () => (await common.checkHealth(`localhost:${st.wrappingPort}`, grpcCreds())) === 'SERVING', 20000, wrap);

    const life = this.spawnService('key-lifecycle', dist('services/key-lifecycle/dist/main.js'), [], {
      LIFECYCLE_ADDR: `127.0.0.1:${st.lifecyclePort}`, LIFECYCLE_TLS_DIR: internalDir, REDIS_URL: redisUrl, METRICS_HOST: '127.0.0.1',
      ...(this.redisPasswordFile ? { REDIS_PASSWORD_FILE: this.redisPasswordFile } : {}),
      WRAPPING_ADDR: `localhost:${st.wrappingPort}`, METRICS_PORT: String(st.lifecycleMetricsPort),
      HEALTH_ADDR: `127.0.0.1:${st.lifecycleHealthPort}`,
    });
    await waitFor('key-lifecycle', async () => (await common.checkHealth(`localhost:${st.lifecyclePort}`, grpcCreds())) === 'SERVING', 20000, life);

    await this.ensureDefaultTenant(internalDir, emulatorUrl, hadApiKey);

    const gw = this.spawnService('kmip-gateway', dist('services/kmip-gateway/dist/main.js'), [], {
      GATEWAY_TLS_DIR: pkiDir, GATEWAY_INTERNAL_TLS_DIR: internalDir, METRICS_HOST: '127.0.0.1',
      KMIP_PORT: String(this.kmipPort), KMIP_HOST: process.env.KMIP_HOST || '0.0.0.0',
      LIFECYCLE_ADDR: `localhost:${st.lifecyclePort}`, METRICS_PORT: String(st.gatewayMetricsPort),
      HEALTH_ADDR: `127.0.0.1:${st.gatewayHealthPort}`,
    });
    await waitFor('kmip-gateway', async () => (await common.checkHealth(`127.0.0.1:${st.gatewayHealthPort}`, common.grpc.credentials.createInsecure())) === 'SERVING', 20000, gw);

    // The admin console: HTTPS with pki/console-server.crt (the KMIP CA's), the operator/console identity to the Admin API.
    const con = this.spawnService('admin-console', dist('services/admin-console/dist/main.js'), [], {
      CONSOLE_ADDR: `127.0.0.1:${st.consolePort}`, CONSOLE_TLS_DIR: internalDir, LIFECYCLE_ADDR: `localhost:${st.lifecyclePort}`,
      CONSOLE_HTTPS_CERT_FILE: path.join(pkiDir, 'console-server.crt'), CONSOLE_HTTPS_KEY_FILE: path.join(pkiDir, 'console-server.key'),
      HEALTH_ADDR: `127.0.0.1:${st.consoleHealthPort}`,
    });
    await waitFor('admin-console', async () => (await fetch(`http://127.0.0.1:${st.consoleHealthPort}/readyz`)).ok, 20000, con);
    return { kmipPort: this.kmipPort, pkiDir, internalDir, adminAddress: `localhost:${st.lifecyclePort}`, consoleUrl: `https://localhost:${st.consolePort}/` };
  }

  /**
   * First run: a tenant "default" with a root key in the emulator, and the dev
   * client certificate registered. A data directory from before the emulator
   * had its own API key gets the new key as the default tenant's credential.
   */
  async ensureDefaultTenant(internalDir, emulatorUrl, hadApiKey) {
    const marker = path.join(this.dataDir, 'default-tenant.json');
    const exists = fs.existsSync(marker);
    if (exists && hadApiKey) return;
    const common = requireBuilt('libs/common/dist/index.js');
    const { adminV1 } = requireBuilt('libs/proto/dist/index.js');
    const client = new adminV1.AdminClient(`localhost:${this.state.lifecyclePort}`, common.channelCredentials(common.loadTlsFiles(internalDir, 'admin')));
    const call = (m, req) => new Promise((resolve, reject) => client[m](req, (e, r) => (e ? reject(e) : resolve(r))));
    if (exists) {
      try {
        await call('updateTenant', { tenantId: 'default', credential: this.emulatorApiKey });
        this.log(`keywarden: the emulator now requires its own API key (${path.join(this.dataDir, 'emulator-api-key')}); tenant "default" uses it`);
      } catch (e) {
        if (e.code !== common.grpc.status.NOT_FOUND) throw e;
      } finally {
        client.close();
      }
      return;
    }
    try {
      try {
        await call('createTenant', {
          id: 'default', name: 'Default tenant (local emulator)',
          provider: { kind: adminV1.ProviderKind.PROVIDER_KIND_KEYPROTECT, endpoint: emulatorUrl, iamEndpoint: emulatorUrl, instanceId: this.state.instanceId, crkId: '' },
          credential: this.emulatorApiKey, createRootKey: true,
        });
      } catch (e) {
        if (e.code !== common.grpc.status.ALREADY_EXISTS) throw e;
      }
      try {
        await call('addCertificate', { tenantId: 'default', pem: fs.readFileSync(path.join(this.dataDir, 'pki', 'client.crt'), 'utf8') });
      } catch (e) {
        if (e.code !== common.grpc.status.ALREADY_EXISTS) throw e;
      }
      fs.writeFileSync(marker, JSON.stringify({ tenant: 'default', createdAt: new Date().toISOString() }, null, 2) + '\n');
      this.log('keywarden: created tenant "default" with a root key in the emulator and registered pki/client.crt');
    } finally {
      client.close();
    }
  }

  /** Stops everything, gateway first (it drains), Redis last. */
  async stop() {
    this.stopping = true;
    for (const child of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(t);
    }
  }
}

/** The last line a service wrote to its log (its fatal error, when it exited at start), without JSON noise. */
function lastLogLine(file) {
  try {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    const last = lines[lines.length - 1] || '';
    try {
      const j = JSON.parse(last);
      return String(j.err?.message ?? j.msg ?? last).slice(0, 300);
    } catch {
      return last.slice(0, 300);
    }
  } catch {
    return '';
  }
}

module.exports = { LocalStack };
