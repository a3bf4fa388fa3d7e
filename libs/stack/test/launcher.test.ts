// The launcher's guards, which act before any component starts: one stack per
// data directory, saved ports kept (a taken one is an error naming it), and a
// data directory that stays single or HA. No service runs in these tests.
import { spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { ChildProc, freePort, listensOn, lockDataDir, LockedError, PortBook, portKey, PortTakenError, Stack, tcpReady } from '../src';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-launcher-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function listen(port: number): Promise<net.Server> {
  const s = net.createServer();
  return new Promise((resolve) => s.listen(port, '127.0.0.1', () => resolve(s)));
}

/** Every file of the directory with its content: what "touches nothing" compares. */
function snapshot(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(d, { recursive: true }) as string[]) {
    const p = path.join(d, f);
    if (fs.statSync(p).isFile()) out[f] = fs.readFileSync(p, 'utf8');
  }
  return out;
}

test('the lock: a live holder keeps a second launcher out, with its pid; a dead holder\'s lock is taken over; release removes it', () => {
  const lock = lockDataDir(dir);
  expect(fs.readFileSync(lock.file, 'utf8').trim()).toBe(String(process.pid));
  lock.release();
  expect(fs.existsSync(lock.file)).toBe(false);

  // Held by another live process (this test's parent).
  fs.writeFileSync(path.join(dir, 'stack.lock'), `${process.ppid}\n`);
  let err: unknown;
  try {
    lockDataDir(dir);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LockedError);
  expect((err as Error).message).toContain(`another keywarden stack (pid ${process.ppid}) runs on ${dir}`);
  expect(fs.readFileSync(path.join(dir, 'stack.lock'), 'utf8').trim()).toBe(String(process.ppid));

  // Held by a process that is gone.
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(dir, 'stack.lock'), gone.stdout);
  const taken = lockDataDir(dir);
  expect(fs.readFileSync(taken.file, 'utf8').trim()).toBe(String(process.pid));
  taken.release();
});

test('port keys: the first replica keeps the historical name, later ones are numbered', () => {
  expect(portKey('lifecyclePort', 1)).toBe('lifecyclePort');
  expect(portKey('lifecyclePort', 2)).toBe('lifecycle2Port');
  expect(portKey('gatewayHealthPort', 2)).toBe('gateway2HealthPort');
  expect(portKey('wrappingMetricsPort', 3)).toBe('wrapping3MetricsPort');
});

test('the port book: saved ports are kept, a taken one is reported, new ones are free and distinct', async () => {
  const held = await freePort();
  const server = await listen(held);
  try {
    const book = new PortBook({ emulatorPort: held }, false);
    expect(await book.taken(['emulatorPort'])).toEqual([{ key: 'emulatorPort', port: held }]);
    expect(await book.get('emulatorPort')).toBe(held);
    const a = await book.get('lifecyclePort');
    const b = await book.get('lifecycle2Port');
    expect(new Set([held, a, b]).size).toBe(3);
    expect(book.fresh).toEqual(new Set(['lifecyclePort', 'lifecycle2Port']));
    expect(book.saved).toMatchObject({ emulatorPort: held, lifecyclePort: a, lifecycle2Port: b });
  } finally {
    server.close();
  }
});

test('a start whose saved port is taken fails at once, names the port and what to do, and touches nothing', async () => {
  const emulatorPort = await freePort();
  const wrappingPort = await freePort();
  fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ emulatorPort, wrappingPort, topology: 'single' }, null, 2) + '\n');
  const before = snapshot(dir);
  const servers = [await listen(emulatorPort), await listen(wrappingPort)];
  try {
    const stack = new Stack({ dataDir: dir, kmipPorts: [0], console: false });
    const err = await stack.start().then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(PortTakenError);
    expect(err!.message).toContain(`port ${emulatorPort} (emulatorPort in`);
    expect(err!.message).toContain('the emulator keeps its port');
    expect(err!.message).toContain(`port ${wrappingPort} (wrappingPort in`);
    expect(err!.message).toContain('or delete "wrappingPort" from');
    expect(stack.components).toEqual([]);
    expect(snapshot(dir)).toEqual(before);
  } finally {
    for (const s of servers) s.close();
  }
});

test('a data directory stays single or HA: the other topology is refused before anything starts', async () => {
  fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ topology: 'single' }) + '\n');
  const before = snapshot(dir);
  const err = await new Stack({ dataDir: dir, ha: true, kmipPorts: [0, 0] }).start().then(() => undefined, (e: Error) => e.message);
  expect(err).toContain('holds a single stack; start it without --ha, or give this one another --data-dir');
  expect(snapshot(dir)).toEqual(before);
});

test('a component is ready only on ports it holds itself: another process answering there does not pass for it', async () => {
  const port = await freePort();
  const idle = new ChildProc({
    name: 'idle', role: 'test', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], logFile: path.join(dir, 'idle.log'),
    ports: { http: port }, ready: () => tcpReady(port), readyTimeoutMs: 1500,
  });
  const other = await listen(port);
  try {
    await expect(idle.start()).rejects.toThrow(/did not become ready within 1.5 s/);
    expect(idle.alive).toBe(false);
  } finally {
    other.close();
  }
  const serving = new ChildProc({
    name: 'serving', role: 'test', command: process.execPath, logFile: path.join(dir, 'serving.log'),
    args: ['-e', `require('net').createServer().listen(${port}, '127.0.0.1')`], ports: { http: port }, ready: () => tcpReady(port),
  });
  await serving.start();
  expect(listensOn(serving.pid!, port)).toBe(true);
  expect(listensOn(process.pid, port)).toBe(false);
  await serving.stop();
});

test('a data directory keeps its provider: the first tenant\'s root key lives there', async () => {
  fs.writeFileSync(path.join(dir, 'stack.json'), JSON.stringify({ topology: 'single', provider: 'emulator' }) + '\n');
  const before = snapshot(dir);
  const err = await new Stack({ dataDir: dir, provider: 'softhsm', kmipPorts: [0] }).start().then(() => undefined, (e: Error) => e.message);
  expect(err).toContain('has its root key in the emulator; start it with --provider emulator');
  expect(snapshot(dir)).toEqual(before);
});
