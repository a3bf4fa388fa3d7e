// PyKMIP's own server (Debian python3-pykmip, `pykmip-server`) as the
// full-stack baseline: run by /usr/bin/python3 in a temp directory with its
// own config file, SQLite database, log and policy directory, bound to
// loopback, TLS 1.2 with client certificates from the benchmark PKI.
// Config format: INI, section [server] (kmip/services/server/config.py).
import fs from 'fs';
import path from 'path';
import { BenchPki, atExit, exited, spawnLogged } from './proc';
import { freePort, waitForPort } from './stack-procs';
import { processCpuSeconds } from './stats';

export interface PyKmipServer {
  port: number;
  pid: number;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export const PYKMIP_SERVER = '/usr/bin/pykmip-server';

export async function startPyKmip(pki: BenchPki, dir: string): Promise<PyKmipServer> {
  if (!fs.existsSync(PYKMIP_SERVER)) throw new Error(`${PYKMIP_SERVER} not found: install the Debian package python3-pykmip`);
  const port = await freePort();
  const policies = path.join(dir, 'policies');
  fs.mkdirSync(policies, { recursive: true });
  const conf = path.join(dir, 'server.conf');
  fs.writeFileSync(conf, [
    '[server]',
    'hostname=127.0.0.1',
    `port=${port}`,
    `certificate_path=${path.join(pki.dir, 'server.crt')}`,
    `key_path=${path.join(pki.dir, 'server.key')}`,
    `ca_path=${path.join(pki.dir, 'ca.crt')}`,
    'auth_suite=TLS1.2',
    'enable_tls_client_auth=True',
    'logging_level=WARNING',
    `database_path=${path.join(dir, 'pykmip.db')}`,
    `policy_path=${policies}`,
    '',
  ].join('\n'));
  const log = path.join(dir, 'pykmip-stdout.log');
  // Its own process group: pykmip-server starts a multiprocessing manager that outlives a killed parent.
  const child = spawnLogged('/usr/bin/python3', [PYKMIP_SERVER, '-f', conf, '-l', path.join(dir, 'pykmip-server.log')], log, { cwd: dir, detached: true });
  const killGroup = (sig: NodeJS.Signals) => { try { process.kill(-(child.pid as number), sig); } catch { /* gone */ } };
  atExit(() => killGroup('SIGKILL'));
  await waitForPort(port, child, 'pykmip-server', log, 30_000);
  const pid = child.pid as number;
  return {
    port, pid,
    cpuSeconds: () => processCpuSeconds(pid),
    stop: async () => {
      killGroup('SIGTERM');
      const t = setTimeout(() => killGroup('SIGKILL'), 5000);
      await exited(child);
      clearTimeout(t);
      await new Promise((r) => setTimeout(r, 200));
      killGroup('SIGKILL'); // the manager process, if still there
    },
  };
}
