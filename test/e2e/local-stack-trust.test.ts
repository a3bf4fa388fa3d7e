// The local stack is closed to other local users and to KMIP-side
// certificates (docs/architecture.md, "Trust model"), and a data directory
// from before the two CAs and the emulator's own API key is migrated without
// losing a key: the attacks that worked against `npm start`, each tried again.
import fs from 'fs';
import os from 'os';
import path from 'path';
import net from 'net';
import { createCa, createCsr, issueCertificate, Issued, writeIssued } from '@keywarden/common';
import { freePort } from '../lib/redis';
import { Running, cli, py, start, stop } from './local-stack-harness';

/** The addresses listening in state LISTEN on `port` (from /proc/net/tcp and tcp6), e.g. "127.0.0.1". */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , st] = line.trim().split(/\s+/);
      const [addr, p] = local.split(':');
      if (st !== '0A' || parseInt(p, 16) !== port) continue;
      if (!v6) out.push(Buffer.from(addr, 'hex').reverse().join('.'));
      else out.push(addr === '00000000000000000000000000000000' ? '::' : addr === '00000000000000000000000001000000' ? '::1' : addr);
    }
  }
  return out;
}

/** The first reply line of one inline Redis command, sent without authenticating. */
function redisReply(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' }, () => c.write(`${command}\r\n`));
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        c.destroy();
        resolve(got.split('\r\n')[0]);
      }
    });
    c.on('error', reject);
  });
}

/** The pki/ directory as the single-CA versions wrote it: one CA signed the services', the admin's and the KMIP certificates. */
function oldLayout(pkiDir: string): Issued {
  const ca = createCa('keywarden development CA');
  writeIssued(pkiDir, 'ca', ca);
  writeIssued(pkiDir, 'server', issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] }));
  writeIssued(pkiDir, 'client', issueCertificate(ca, { commonName: 'vcenter-dev', usage: 'client' }));
  for (const s of ['kmip-gateway', 'key-lifecycle', 'crk-wrapping', 'admin']) {
    writeIssued(pkiDir, s, issueCertificate(ca, { commonName: s, usage: 'both', dnsNames: [s, 'localhost'], ipAddresses: ['127.0.0.1', '::1'] }));
  }
  return ca;
}

test('npm start: an old data dir is migrated, and the stack is closed to what it must not trust', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-e2e-trust-'));
  const pkiDir = path.join(dataDir, 'pki');
  const port = await freePort();
  const ca = oldLayout(pkiDir);
  const clientBefore = fs.readFileSync(path.join(pkiDir, 'client.crt'), 'utf8');
  let running: Running | undefined;
  try {
    running = await start(dataDir, port);
    expect(running.output()).toContain('now has two CAs');
    // The KMIP side is untouched: vCenter's CA and its client certificate keep working.
    expect(fs.readFileSync(path.join(pkiDir, 'ca.crt'), 'utf8')).toBe(ca.cert);
    expect(fs.readFileSync(path.join(pkiDir, 'client.crt'), 'utf8')).toBe(clientBefore);
    for (const s of ['kmip-gateway', 'key-lifecycle', 'crk-wrapping', 'admin']) {
      expect(fs.existsSync(path.join(pkiDir, `${s}.crt`))).toBe(false);
      expect(fs.existsSync(path.join(pkiDir, 'internal', `${s}.crt`))).toBe(true);
    }
    const first = py(['create', String(port), pkiDir]);
    expect(first.length).toBe(32);

    // 1. A certificate signed for a vCenter CSR cannot administer the stack. A CSR naming an
    // internal identity is not even signed; any other is signed by the KMIP CA, which the Admin API does not trust.
    fs.writeFileSync(path.join(dataDir, 'admin.csr'), createCsr('admin').csr);
    expect(cli(dataDir, ['vcenter', 'sign-csr', path.join(dataDir, 'admin.csr'), '--out', path.join(dataDir, 'admin-evil.crt')]).code).toBe(2);
    expect(fs.existsSync(path.join(dataDir, 'admin-evil.crt'))).toBe(false);
    const csr = createCsr('vcenter-evil');
    fs.writeFileSync(path.join(dataDir, 'evil.csr'), csr.csr);
    const signed = cli(dataDir, ['vcenter', 'sign-csr', path.join(dataDir, 'evil.csr'), '--out', path.join(dataDir, 'evil.crt')]);
    expect(signed.code).toBe(0);
    const evilDir = path.join(dataDir, 'evil');
    fs.mkdirSync(evilDir);
    fs.copyFileSync(path.join(pkiDir, 'internal', 'ca.crt'), path.join(evilDir, 'ca.crt'));
    fs.copyFileSync(path.join(dataDir, 'evil.crt'), path.join(evilDir, 'admin.crt'));
    fs.writeFileSync(path.join(evilDir, 'admin.key'), csr.key, { mode: 0o600 });
    const asEvil = cli(dataDir, ['--pki-dir', evilDir, '--json', 'tenant', 'list']);
    expect(asEvil.code).not.toBe(0);
    expect(asEvil.stdout).not.toContain('default');
    // The stack's own operator certificate still works.
    expect(cli(dataDir, ['--json', 'tenant', 'list']).stdout).toContain('default');

    // 4. Redis wants the generated password: no anonymous HSET of a certificate into a tenant.
    const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as Record<string, number>;
    expect(await redisReply(state.redisPort, `HSET kw:cert:${'ab'.repeat(32)} tenant default`)).toMatch(/^-NOAUTH/);
    expect(fs.statSync(path.join(dataDir, 'redis.password')).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(dataDir, 'emulator-api-key')).mode & 0o077).toBe(0);

    // ... and the emulator wants its generated API key: any other gets no token.
    const token = await fetch(`http://127.0.0.1:${state.emulatorPort}/identity/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=local-dev-api-key',
    });
    expect(token.status).toBe(400);

    // Only KMIP listens beyond loopback.
    const ports = Object.entries(state).filter(([k]) => k.endsWith('Port') && k !== 'kmipPort');
    expect(ports.length).toBeGreaterThanOrEqual(10);
    for (const [name, p] of ports) expect({ name, listeners: listeners(p) }).toEqual({ name, listeners: ['127.0.0.1'] });
    expect(listeners(port)).toContain('0.0.0.0');

    // A data dir from before the emulator had its own key: the restart gives tenant "default" the new one.
    expect(await stop(running)).toBe(0);
    running = undefined;
    fs.rmSync(path.join(dataDir, 'emulator-api-key'));
    running = await start(dataDir, port);
    expect(running.output()).toContain('the emulator now requires its own API key');
    expect(py(['get', String(port), pkiDir, first.uid]).sha256).toBe(first.sha256);
  } finally {
    if (running) await stop(running);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 300_000);
