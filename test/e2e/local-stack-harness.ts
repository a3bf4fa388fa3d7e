// Runs the stack exactly as `npm start` does (scripts/start.js on the built
// services) for the end-to-end tests, and drives it with PyKMIP's client and
// the built CLI.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import path from 'path';

export const root = path.resolve(__dirname, '..', '..');
export const PY = '/usr/bin/python3';

export interface Running {
  child: ChildProcess;
  output: () => string;
}

export function start(dataDir: string, kmipPort: number): Promise<Running> {
  const child = spawn(process.execPath, [path.join(root, 'scripts/start.js'), '--data-dir', dataDir], {
    // KEYWARDEN_FREE_PORTS: free ports rather than npm start's defaults, which stacks of other suites running at the same time want too.
    cwd: root, env: { ...process.env, KMIP_PORT: String(kmipPort), REDIS_URL: '', LOG_LEVEL: 'info', KEYWARDEN_FREE_PORTS: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
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

export function stop(r: Running): Promise<number | null> {
  return new Promise((resolve) => {
    r.child.removeAllListeners('exit');
    r.child.once('exit', (code) => resolve(code));
    r.child.kill('SIGTERM');
  });
}

export function py(args: string[]): { uid: string; sha256: string; length: number; algorithm: string; state: string | null } {
  const r = spawnSync(PY, [path.join(__dirname, 'py/vcenter_session.py'), ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`PyKMIP session failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

export function cli(dataDir: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'libs/cli/dist/main.js'), '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
