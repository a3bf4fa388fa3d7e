// `npm start` behaves like a service: one stack per data directory, a
// component that dies stops the stack with a non-zero exit and its last log
// line, a saved port that another program took stops the start with the port
// named (never a ready stack whose tenants point at nothing), and a signal to
// the `npm start` process itself (as a supervisor sends it) stops everything.
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { processAlive, StackState } from '@keywarden/stack';
import { freePort } from '../lib/redis';
import { Running, root, start } from './local-stack-harness';

let dataDir: string;
let kmipPort: number;

// Each test its own data directory and KMIP port.
beforeEach(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-e2e-service-'));
  kmipPort = await freePort();
});

afterEach(() => {
  // Whatever a failed test left running (components run in process groups of their own).
  for (const pid of fs.existsSync(path.join(dataDir, 'stack.json')) ? pids() : []) if (pid && processAlive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const state = (): StackState => JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as StackState;
const pids = (): number[] => (state().components ?? []).map((c) => c.pid as number);

function exitOf(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return Promise.resolve(r.child.exitCode);
  r.child.removeAllListeners('exit');
  return new Promise((resolve) => r.child.once('exit', (code) => resolve(code)));
}

function stopRunning(r: Running): Promise<number | null> {
  const code = exitOf(r);
  if (r.child.exitCode === null) r.child.kill('SIGTERM');
  return code;
}

async function allGone(list: number[], timeoutMs = 20_000): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  while (list.some(processAlive) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  return list.filter(processAlive);
}

test('one stack per data directory: a second start exits non-zero at once and touches nothing', async () => {
  const running = await start(dataDir, kmipPort);
  try {
    const before = fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8');

    const t = Date.now();
    const second = spawnSync(process.execPath, [path.join(root, 'scripts/start.js'), '--data-dir', dataDir], {
      cwd: root, env: { ...process.env, KMIP_PORT: String(await freePort()), REDIS_URL: '' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`another keywarden stack (pid ${running.child.pid}) runs on ${dataDir}`);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).toBe(before);
    const components = pids();
    expect(components.length).toBeGreaterThanOrEqual(6);
    expect(components.every(processAlive)).toBe(true);

    // crk-wrapping may resolve credential_ref file: references in DIR/credentials (0700).
    const wrapping = state().components!.find((c) => c.role === 'crk-wrapping')!;
    const env = fs.readFileSync(`/proc/${wrapping.pid}/environ`, 'utf8').split('\0');
    expect(env).toContain(`WRAPPING_CREDENTIALS_DIR=${path.join(dataDir, 'credentials')}`);
    expect(fs.statSync(path.join(dataDir, 'credentials')).mode & 0o777).toBe(0o700);
  } finally {
    await stopRunning(running);
  }
}, 180_000);

test('a component that dies stops the stack with exit 1 and its last words', async () => {
  const running = await start(dataDir, kmipPort);
  try {
    const components = pids();
    // key-lifecycle killed behind the launcher's back: the stack stops, exit 1, with the reason.
    const lifecycle = state().components!.find((c) => c.role === 'key-lifecycle')!;
    process.kill(lifecycle.pid as number, 'SIGKILL');
    expect(await exitOf(running)).toBe(1);
    expect(running.output()).toMatch(/key-lifecycle exited unexpectedly \(SIGKILL\)/);
    expect(await allGone(components)).toEqual([]);
  } finally {
    await stopRunning(running);
  }
}, 180_000);

test('a saved port taken by another program: the start fails, names the port and what to do, and never says ready', async () => {
  await stopRunning(await start(dataDir, kmipPort));
  const emulatorPort = state().emulatorPort as number;
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(emulatorPort, '127.0.0.1', () => resolve()));
  try {
    const err = await start(dataDir, kmipPort).then(() => 'ready', (e: Error) => e.message);
    expect(err).toMatch(/start\.js exited \(1\)/);
    expect(err).toContain(`port ${emulatorPort} (emulatorPort in`);
    expect(err).toContain('part of the tenants\' provider URLs');
    expect(err).not.toContain('keywarden ready');
    expect(state().emulatorPort).toBe(emulatorPort);
    expect(fs.existsSync(path.join(dataDir, 'stack.lock'))).toBe(false);
  } finally {
    holder.close();
  }
}, 120_000);

test('SIGINT to the npm start process itself (not its group) stops every component and exits 0', async () => {
  // The root package's start script, as npm runs it, without the build (the test runs on built output).
  const script = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  expect(script).toMatch(/^npm run build && /);
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-e2e-npm-'));
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({
    name: 'kw-npm-start', version: '1.0.0', private: true,
    scripts: { start: script.replace(/^npm run build && /, 'true && ').replace('scripts/start.js', path.join(root, 'scripts/start.js')) },
  }));
  const npm = spawn('npm', ['start', '--', '--data-dir', dataDir], {
    cwd: pkg, env: { ...process.env, KMIP_PORT: String(kmipPort), REDIS_URL: '', KEYWARDEN_FREE_PORTS: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  npm.stdout.on('data', (d) => (out += d));
  npm.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  try {
    const end = Date.now() + 90_000;
    while (!/^keywarden ready/m.test(out)) {
      if (npm.exitCode !== null || Date.now() > end) throw new Error(`npm start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const components = pids();
    expect(components.every(processAlive)).toBe(true);
    npm.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(await allGone(components)).toEqual([]);
    expect(out).toContain('SIGINT, stopping');
  } finally {
    if (npm.exitCode === null) npm.kill('SIGKILL');
    fs.rmSync(pkg, { recursive: true, force: true });
  }
}, 180_000);
