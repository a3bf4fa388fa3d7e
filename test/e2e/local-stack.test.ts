// End to end: the stack exactly as `npm start` runs it (scripts/start.js on
// the built services, its own Redis, emulator and dev PKI), driven by PyKMIP's
// client; then a restart, and the same key bytes again.
import { spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { freePort } from '../lib/redis';
import { PY, Running, cli, py, start, stop } from './local-stack-harness';

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
    const keys = JSON.parse(listed.stdout) as Array<{ uniqueIdentifier: string; state: string }>;
    expect(keys.find((k) => k.uniqueIdentifier === first.uid)?.state).toBe('Active');

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
