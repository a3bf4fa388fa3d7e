// The PyKMIP interop harness: the full stack (Redis, Key Protect emulator,
// crk-wrapping, key-lifecycle) and the KMIP gateway on free ports, client
// certificates written to a temp dir, and Python scripts from ./py run as
// child processes with the Debian package python3-pykmip. Each script prints
// one JSON object on its last stdout line; the jest side asserts on it.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Issued, writeIssued } from '@keywarden/common';
import { Gateway, LifecycleBackend, grpcLifecycleBackend, startGateway } from '@keywarden/kmip-gateway';
import { TestStack, startStack } from '../lib';

/** The interpreter that has PyKMIP: Debian's, not a pyenv or venv python3 earlier on PATH. */
export const PYTHON = process.env.KEYWARDEN_INTEROP_PYTHON ?? '/usr/bin/python3';
const PY_DIR = path.join(__dirname, 'py');

/**
 * The PyKMIP version, or a thrown Error that says how to install it. The suite
 * fails rather than skips: interop with an independent client is a
 * non-negotiable of the design.
 */
export function pykmipVersion(): string {
  try {
    return execFileSync(PYTHON, ['-c', 'import kmip, kmip.pie.client; print(kmip.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? String(e);
    throw new Error(
      `PyKMIP interop tests need ${PYTHON} with the kmip module (Debian/Ubuntu package python3-pykmip): ` +
      `run "apt-get install python3-pykmip" (or .ci/run as root), or set KEYWARDEN_INTEROP_PYTHON to an interpreter that has it. ` +
      `Cause: ${detail}`);
  }
}

/** Paths of one client identity, as PyKMIP's ProxyKmipClient takes them. */
export interface ClientFiles {
  cert: string;
  key: string;
}

export interface PyResult {
  /** The JSON object the script printed last. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  out: any;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  /** Called for each JSON line the script prints before its result (events); may write to its stdin. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onEvent?: (event: any, stdin: NodeJS.WritableStream) => void | Promise<void>;
  timeoutMs?: number;
}

export interface Interop {
  stack: TestStack;
  gateway: Gateway;
  dir: string;
  /** The CA that signed the gateway's server certificate (what PyKMIP verifies the server with). */
  caFile: string;
  /** Writes a certificate and key for PyKMIP; returns their paths. */
  writeClient(name: string, issued: Issued): ClientFiles;
  /** Runs py/<script> with a JSON config: host, port, ca and the given fields. */
  run(script: string, config: Record<string, unknown>, o?: RunOptions): Promise<PyResult>;
  close(): Promise<void>;
}

export async function startInterop(): Promise<Interop> {
  pykmipVersion();
  const stack = await startStack();
  let backend: LifecycleBackend | undefined;
  let gateway: Gateway | undefined;
  const children = new Set<ChildProcess>();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-interop-'));
  try {
    backend = grpcLifecycleBackend({ address: `localhost:${stack.lifecyclePort}`, tls: stack.pki.gateway });
    gateway = await startGateway({ port: 0, host: '127.0.0.1', cert: stack.pki.server.cert, key: stack.pki.server.key, backend });
  } catch (e) {
    backend?.close();
    await stack.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const caFile = path.join(dir, 'ca.crt');
  fs.writeFileSync(caFile, stack.pki.ca.cert);
  const gw = gateway;
  const be = backend;

  const run = (script: string, config: Record<string, unknown>, o: RunOptions = {}): Promise<PyResult> => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const cfg = { host: '127.0.0.1', port: gw.port, ca: caFile, ...config };
    // -B: no __pycache__ in the source tree.
    const child = spawn(PYTHON, ['-B', path.join(PY_DIR, script), JSON.stringify(cfg)], {
      cwd: dir,
      // HOME points at the temp dir so no ~/.pykmip/pykmip.conf of the user changes the client's settings.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let pending = '';
    let events = Promise.resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 45_000);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{"event"')) continue;
        const ev = JSON.parse(line);
        if (o.onEvent) {
          const handler = o.onEvent;
          events = events.then(() => handler(ev, child.stdin)).catch((err) => { child.kill('SIGKILL'); reject(err); });
        }
      }
    });
    child.stderr.on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => { clearTimeout(timer); children.delete(child); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      void events.then(() => {
        const last = stdout.trim().split('\n').pop() ?? '';
        if (code !== 0 || !last.startsWith('{')) {
          reject(new Error(`${script} exited with ${signal ?? code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
          return;
        }
        resolve({ out: JSON.parse(last), stderr, ms: Date.now() - t0 });
      });
    });
  });

  return {
    stack,
    gateway: gw,
    dir,
    caFile,
    writeClient(name, issued) {
      writeIssued(dir, name, issued);
      return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    },
    run,
    async close() {
      for (const c of children) c.kill('SIGKILL');
      await gw.close(1000);
      be.close();
      await stack.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One step's record from kw.Steps: {ok: true, value} or a failure (status/reason/message, or error). */
export interface StepResult {
  ok: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  value?: any;
  status?: string;
  reason?: string;
  message?: string;
  error?: string;
}

/** Reads the steps of a script's result; `ok` and `failed` fail the test with the step's details. */
export function steps(result: PyResult) {
  const all = result.out.steps as Record<string, StepResult>;
  const get = (name: string): StepResult => {
    const r = all[name];
    if (!r) throw new Error(`the script recorded no step "${name}" (steps: ${Object.keys(all).join(', ')})`);
    return r;
  };
  return {
    all,
    get,
    /** The value of a step that must have succeeded. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    ok(name: string): any {
      const r = get(name);
      expect({ step: name, ...r }).toMatchObject({ step: name, ok: true });
      return r.value;
    },
    /** A step that must have ended in a KMIP failure answer (not a client-side exception). */
    failed(name: string): StepResult {
      const r = get(name);
      expect({ step: name, ...r }).toMatchObject({ step: name, ok: false, status: 'OPERATION_FAILED' });
      return r;
    },
  };
}

/**
 * A test file's stack: starts it (and runs `setup`, which usually runs the
 * Python scripts) before its tests, and closes it after them.
 */
export function interopSuite(setup: (io: Interop) => Promise<void>): void {
  let io: Interop | undefined;
  beforeAll(async () => {
    io = await startInterop();
    await setup(io);
  }, 90_000);
  afterAll(async () => {
    await io?.close();
  }, 30_000);
}
