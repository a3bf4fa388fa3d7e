// End to end: the stack exactly as `npm start` runs it (scripts/start.js on
// the built services, its own Redis, emulator and dev PKI), driven by PyKMIP's
// client; then a restart, and the same key bytes again.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { freePort } from '../lib/redis';

const root = path.resolve(__dirname, '..', '..');
const PY = '/usr/bin/python3';


interface Running {
  child: ChildProcess;
  output: () => string;
}

function start(dataDir: string, kmipPort: number): Promise<Running> {
  const child = spawn(process.execPath, [path.join(root, 'scripts/start.js'), '--data-dir', dataDir], {
    cwd: root, env: { ...process.env, KMIP_PORT: String(kmipPort), REDIS_URL: '', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack not ready in 90 s:\n${out}`)), 90_000);
    const check = () => {
      if (/^keywarden ready/m.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`start.js exited (${code}):\n${out}`)); });
  });
}

function stop(r: Running): Promise<number | null> {
  return new Promise((resolve) => {
    r.child.removeAllListeners('exit');
    r.child.once('exit', (code) => resolve(code));
    r.child.kill('SIGTERM');
  });
}

function py(args: string[]): { uid: string; sha256: string; length: number; algorithm: string; state: string | null } {
  const r = spawnSync(PY, [path.join(__dirname, 'py/vcenter_session.py'), ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`PyKMIP session failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function cli(dataDir: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'libs/cli/dist/main.js'), '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('python3-pykmip is installed (the e2e and interop suites need it)', () => {
  const r = spawnSync(PY, ['-c', 'import kmip'], { encoding: 'utf8' });
  expect({ status: r.status, hint: r.status === 0 ? '' : 'install Debian package python3-pykmip (.ci/run does)' }).toEqual({ status: 0, hint: '' });
});

test('npm start stack: PyKMIP creates and reads a key, the stack restarts, the same key bytes come back', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-e2e-'));
  const port = await freePort();
  let running: Running | undefined;
  try {
    running = await start(dataDir, port);
    expect(running.output()).toContain(`KMIP on 127.0.0.1:${port}`);
    for (const f of ['ca.crt', 'client.crt', 'client.key']) expect(fs.existsSync(path.join(dataDir, 'pki', f))).toBe(true);

    const first = py(['create', String(port), path.join(dataDir, 'pki')]);
    expect(first).toMatchObject({ length: 32, algorithm: 'AES', state: 'PRE_ACTIVE' });

    const listed = cli(dataDir, ['--json', 'key', 'list', 'default']);
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.stdout) as Array<{ uniqueIdentifier: string; state: number }>;
    expect(keys.find((k) => k.uniqueIdentifier === first.uid)?.state).toBe(2); // Active

    expect(await stop(running)).toBe(0);
    running = undefined;

    running = await start(dataDir, port);
    expect(running.output()).not.toContain('created tenant "default"');
    const again = py(['get', String(port), path.join(dataDir, 'pki'), first.uid]);
    expect(again.sha256).toBe(first.sha256);
  } finally {
    if (running) await stop(running);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 240_000);

test('npm start with the KMIP port taken: stops with the reason on its terminal, not only in a log file', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-e2e-busy-'));
  const port = await freePort();
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(port, '0.0.0.0', () => resolve()));
  try {
    const err = await start(dataDir, port).then(() => undefined, (e: Error) => e.message);
    expect(err).toMatch(/start\.js exited \(\d+\)/);
    expect(err).toContain(`kmip-gateway exited unexpectedly (1): kmip-gateway: listen EADDRINUSE: address already in use 0.0.0.0:${port}`);
    expect(err).toContain('KMIP_PORT=<port> npm start uses another KMIP port');
  } finally {
    holder.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);
