// docs/migration.md, run: every `sh` block marked `<!-- doc-test: <step> -->`
// runs in order against one local stack (`npm start`'s, on the built
// services), with the guide's placeholders replaced by the stack's emulator,
// a customer instance and root key created there, and the files vCenter would
// hand over. Between the steps the test plays vCenter over KMIP with each
// identity the guide registered. Blocks without the marker must not run
// `keywarden`, and commands quoted in the text must be ones a marked block runs.
import { execFileSync } from 'child_process';
import { X509Certificate, createHash, randomUUID } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { buildProgram } from '@keywarden/cli';
import { ResultStatus, vcenter } from '@keywarden/kmip';
import { KmipClient } from '../lib/kmip-client';
import { freePort } from '../lib/redis';
import { Block, CommandResult, fencedBlocks, inlineCommands, runBlock, shellCommands, uncovered, untestedInvocations } from './doc-test';
import { Running, cli, root, start, stop } from './local-stack-harness';

const GUIDE = path.join(root, 'docs', 'migration.md');
const guide = fs.readFileSync(GUIDE, 'utf8');
const blocks = fencedBlocks(guide);
const tested = blocks.filter((b) => b.step && b.lang === 'sh');

/** The steps the test acts around (files placed before, vCenter played after): the guide must keep them, in this order. */
const STEPS = ['tenant-existing-root-key', 'tenant-new-root-key', 'tenant-check', 'trust-vcenter-certificate', 'trust-csr', 'trust-issue-client', 'trust-kms', 'trust-check', 'verify-keys'];

/** The VM each vCenter of the guide (vc01 … vc04) encrypts with keywarden once trusted. */
const VMS: Record<string, string> = { vc01: 'vm-web-01', vc02: 'vm-db-01', vc03: 'vm-app-01', vc04: 'vm-app-02' };

const fingerprint = (pemOrDer: string | Buffer) => createHash('sha256').update(new X509Certificate(pemOrDer).raw).digest('hex');

/** The local stack and everything the guide's placeholders stand for. */
interface World {
  running: Running;
  dataDir: string;
  workDir: string;
  stateDir: string;
  credentialsDir: string;
  kmipPort: number;
  emulatorUrl: string;
  apiKey: string;
  instance: string;
  rootKey: string;
  hpcsInstance: string;
  /** Private keys vCenter keeps (vc01 … vc03); vc04's is the file issue-client wrote. */
  vcenterKeys: Record<string, string>;
  uids: Record<string, string>;
  results: Record<string, CommandResult[]>;
}

let w: World | undefined;
let tmp: string;

/** One Key Protect API call to the emulator, as the customer's own tooling would make it. */
async function keyProtect(method: string, pathname: string, body?: unknown): Promise<{ resources: Array<{ id: string; name: string }> }> {
  const token = await fetch(`${w!.emulatorUrl}/identity/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: w!.apiKey }).toString(),
  }).then((r) => r.json() as Promise<{ access_token: string }>);
  const r = await fetch(`${w!.emulatorUrl}/api/v2/${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token.access_token}`, 'bluemix-instance': w!.instance, 'content-type': 'application/vnd.ibm.kms.key+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`Key Protect ${method} ${pathname}: HTTP ${r.status}`);
  return r.json() as Promise<{ resources: Array<{ id: string; name: string }> }>;
}

/**
 * Makes an instance exist in the emulator, as the customer's instances exist
 * in IBM Cloud. An emulator without the control path (404) creates instances
 * on first use.
 */
async function ensureInstance(id: string): Promise<void> {
  const r = await fetch(`${w!.emulatorUrl}/_emulator/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  if (r.status !== 200 && r.status !== 404) throw new Error(`emulator: creating instance ${id}: HTTP ${r.status}`);
}

const createKey = (name: string, extractable: boolean) => keyProtect('POST', 'keys', {
  metadata: { collectionType: 'application/vnd.ibm.kms.key+json', collectionTotal: 1 },
  resources: [{ type: 'application/vnd.ibm.kms.key+json', name, extractable }],
}).then((r) => r.resources[0].id);

/** The guide's placeholders and endpoints, replaced by what stands for them on the local stack. */
function substitute(text: string): string {
  return text
    .replace(/https:\/\/[A-Za-z0-9<>_.-]+\.(?:kms\.cloud\.ibm\.com|hs-crypto\.appdomain\.cloud|iam\.cloud\.ibm\.com)|https:\/\/iam\.cloud\.ibm\.com/g, w!.emulatorUrl)
    .replaceAll('<INSTANCE_GUID>', w!.instance)
    .replaceAll('<ROOT_KEY_ID>', w!.rootKey)
    .replaceAll('<HPCS_INSTANCE_GUID>', w!.hpcsInstance)
    .replaceAll('/etc/keywarden/provider-credentials', w!.credentialsDir);
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** What vCenter hands over before a step: its certificate (PEM, DER) or its CSR. vCenter keeps the keys. */
const before: Record<string, () => void> = {
  'trust-vcenter-certificate': () => {
    for (const vc of ['vc01', 'vc02']) {
      const key = path.join(w!.stateDir, `${vc}.key`);
      const pem = path.join(w!.stateDir, `${vc}.pem`);
      openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${vc}.example.com`, '-days', '30', '-keyout', key, '-out', pem]);
      w!.vcenterKeys[vc] = key;
    }
    fs.copyFileSync(path.join(w!.stateDir, 'vc01.pem'), path.join(w!.workDir, 'vc01.pem'));
    openssl(['x509', '-in', path.join(w!.stateDir, 'vc02.pem'), '-outform', 'DER', '-out', path.join(w!.workDir, 'vc02.der')]);
  },
  'trust-csr': () => {
    const key = path.join(w!.stateDir, 'vc03.key');
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=vc03.example.com', '-keyout', key, '-out', path.join(w!.workDir, 'vc03.csr')]);
    w!.vcenterKeys.vc03 = key;
  },
};

/**
 * vCenter with one client identity, trusting only the CA the guide exported:
 * Discover Versions, Create, its product tags, Activate, then the VM's tags.
 */
async function vcenterEncryptsVm(cert: string, key: string, vm: string): Promise<string> {
  const c = await KmipClient.connect({ port: w!.kmipPort, ca: fs.readFileSync(path.join(w!.workDir, 'keywarden-ca.crt')), cert: fs.readFileSync(cert), key: fs.readFileSync(key), timeoutMs: 10_000 });
  try {
    expect((await c.send(vcenter.discoverVersions())).batchItems[0].resultStatus).toBe(ResultStatus.Success);
    const created = (await c.send(vcenter.create(3))).batchItems[0];
    expect({ vm, status: created.resultStatus, reason: created.resultMessage }).toEqual({ vm, status: ResultStatus.Success, reason: undefined });
    const uid = created.payload.uniqueIdentifier as string;
    for (const m of [vcenter.tagBatch(5, uid), vcenter.activate(10, uid), vcenter.tagBatch(11, uid, [['x-Identifier', randomUUID()], ['x-Component', 'Virtual Machine'], ['x-Name', vm]])]) {
      expect((await c.send(m)).batchItems.map((i) => i.resultStatus)).toEqual(m.batchItems.map(() => ResultStatus.Success));
    }
    return uid;
  } finally {
    await c.close();
  }
}

/** After "Make vCenter trust KMS": each vCenter the guide connected encrypts one VM. */
const after: Record<string, () => Promise<void>> = {
  'trust-kms': async () => {
    const identities: Record<string, [string, string]> = {
      vc01: [path.join(w!.stateDir, 'vc01.pem'), w!.vcenterKeys.vc01],
      vc02: [path.join(w!.stateDir, 'vc02.pem'), w!.vcenterKeys.vc02],
      vc03: [path.join(w!.workDir, 'vc03.crt'), w!.vcenterKeys.vc03],
      vc04: [path.join(w!.workDir, 'vc04', 'vc04.crt'), path.join(w!.workDir, 'vc04', 'vc04.key')],
    };
    for (const [vc, [cert, key]] of Object.entries(identities)) w!.uids[VMS[vc]] = await vcenterEncryptsVm(cert, key, VMS[vc]);
  },
};

/** The lines of a table or key/value output that mention `word`. */
const linesWith = (text: string, word: string) => text.split('\n').filter((l) => l.includes(word));
/** The value of one field of `keywarden … show`-style output ("field: value"). */
const value = (text: string, field: string) => new RegExp(`^${field}:\\s+(.*)$`, 'm').exec(text)?.[1]?.trim();

/** What each step's commands must print, beyond exiting 0. */
const expectations: Record<string, (r: CommandResult[]) => void> = {
  'tenant-existing-root-key': (r) => {
    expect(r.find((c) => /tenant create acme/.test(c.command))?.stdout).toBe(`created tenant acme (root key ${w!.rootKey})\n`);
  },
  'tenant-new-root-key': (r) => {
    const created = /^created tenant initech \(root key ([0-9a-f-]{36})\)$/.exec(r[0].stdout.trim());
    expect(created?.[1]).toBeDefined();
    expect(created?.[1]).not.toBe(w!.rootKey);
  },
  'tenant-check': (r) => {
    const [list, show, status] = r;
    for (const t of ['acme', 'initech']) expect(linesWith(list.stdout, t).length).toBe(1);
    expect({ instance: value(show.stdout, 'instance'), rootKey: value(show.stdout, 'root key'), credential: value(show.stdout, 'credential'), provider: value(show.stdout, 'provider') })
      .toEqual({ instance: w!.instance, rootKey: w!.rootKey, credential: 'sealed', provider: 'keyprotect' });
    expect({ state: value(status.stdout, 'state'), rootKey: value(status.stdout, 'root key') }).toEqual({ state: 'ACTIVE', rootKey: w!.rootKey });
    // "or the file: reference": what tenant show says of initech.
    const initech = cli(w!.dataDir, ['tenant', 'show', 'initech']);
    expect({ code: initech.code, credential: value(initech.stdout, 'credential'), provider: value(initech.stdout, 'provider') })
      .toEqual({ code: 0, credential: `file:${w!.credentialsDir}/initech-hpcs`, provider: 'hpcs' });
  },
  'trust-vcenter-certificate': (r) => {
    const [pem, der] = r;
    expect({ fp: value(pem.stdout, 'fingerprint'), tenant: value(pem.stdout, 'tenant') }).toEqual({ fp: fingerprint(fs.readFileSync(path.join(w!.stateDir, 'vc01.pem'))), tenant: 'acme' });
    expect({ fp: value(der.stdout, 'fingerprint'), tenant: value(der.stdout, 'tenant') }).toEqual({ fp: fingerprint(fs.readFileSync(path.join(w!.workDir, 'vc02.der'))), tenant: 'acme' });
  },
  'trust-csr': (r) => {
    const crt = fs.readFileSync(path.join(w!.workDir, 'vc03.crt'), 'utf8');
    expect(r[0].stderr.trim()).toBe(`signed: fingerprint ${fingerprint(crt)}, registered for tenant acme`);
    const cert = new X509Certificate(crt);
    expect(cert.subject).toBe('CN=vc03.example.com');
    expect(cert.verify(new X509Certificate(fs.readFileSync(path.join(w!.workDir, 'kmip-ca.crt'))).publicKey)).toBe(true);
  },
  'trust-issue-client': (r) => {
    const dir = path.join(w!.workDir, 'vc04');
    expect(fs.statSync(path.join(dir, 'vc04.key')).mode & 0o777).toBe(0o600);
    expect({ fp: value(r[0].stdout, 'fingerprint'), tenant: value(r[0].stdout, 'registered for') })
      .toEqual({ fp: fingerprint(fs.readFileSync(path.join(dir, 'vc04.crt'))), tenant: 'acme' });
  },
  'trust-kms': () => {
    // The exported CA is the KMIP CA; the vCenter sessions after this step trust nothing else.
    expect(fs.readFileSync(path.join(w!.workDir, 'keywarden-ca.crt'), 'utf8')).toBe(fs.readFileSync(path.join(w!.workDir, 'kmip-ca.crt'), 'utf8'));
  },
  'trust-check': (r) => {
    const certs = [path.join(w!.stateDir, 'vc01.pem'), path.join(w!.workDir, 'vc02.der'), path.join(w!.workDir, 'vc03.crt'), path.join(w!.workDir, 'vc04', 'vc04.crt')];
    for (const c of certs) expect({ cert: path.basename(c), rows: linesWith(r[0].stdout, fingerprint(fs.readFileSync(c))).map((l) => l.split(/\s{2,}/)[1]) }).toEqual({ cert: path.basename(c), rows: ['acme'] });
  },
  'verify-keys': (r) => {
    const [all, one, show] = r;
    for (const [vm, uid] of Object.entries(w!.uids)) expect({ vm, rows: linesWith(all.stdout, uid).filter((l) => l.includes(vm)).length }).toEqual({ vm, rows: 1 });
    expect(Object.values(w!.uids).filter((uid) => one.stdout.includes(uid))).toEqual([w!.uids['vm-web-01']]);
    expect({ keys: value(show.stdout, 'keys'), certificates: value(show.stdout, 'certificates') }).toEqual({ keys: '4', certificates: '4' });
  },
};

describe('docs/migration.md', () => {
  test('the blocks the test acts around are in the guide, in order, each once', () => {
    expect(tested.map((b) => b.step).filter((s) => STEPS.includes(s!))).toEqual(STEPS);
    expect(new Set(tested.map((b) => b.step)).size).toBe(tested.length);
  });

  test('no block the test skips runs keywarden', () => {
    expect(untestedInvocations(blocks)).toEqual([]);
  });

  test('every keywarden command quoted in the text exists and is run by a tested block', () => {
    const { program } = buildProgram();
    const runs = tested.flatMap((b) => shellCommands(b.body));
    expect(uncovered(program, runs, [...inlineCommands(guide), ...runs])).toEqual([]);
  });

  test('the checks can fail: an untested keywarden line, an unknown option, an uncovered quote', () => {
    const md = [
      '`keywarden key list acme --vm x`, `keywarden tenant list --bogus`, `keywarden tenants list`, `keywarden cert`', '',
      '<!-- doc-test: t -->', '```sh', 'keywarden key list acme', '```', '',
      '```sh', 'kubectl get pods', 'x=1 keywarden cert list', '```', '',
      '```powershell', 'Get-KeyProvider -Name keywarden-us-south', '```',
    ].join('\n');
    const bs = fencedBlocks(md);
    expect(untestedInvocations(bs)).toEqual([{ line: 8, text: 'x=1 keywarden cert list' }]);
    const { program } = buildProgram();
    expect(uncovered(program, shellCommands(bs[0].body), inlineCommands(md))).toEqual([
      'keywarden key list acme --vm x: no tested block runs "keywarden key list" with --vm',
      'keywarden tenant list --bogus: unknown option --bogus of "tenant list"',
      'keywarden tenants list: unknown command "tenants"',
      'keywarden cert: "cert" needs a subcommand',
    ]);
  });

  describe('run against a local stack', () => {
    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-migration-doc-'));
      const dirs = Object.fromEntries(['data', 'work', 'state', 'credentials'].map((d) => [d, path.join(tmp, d)]));
      for (const d of ['work', 'state', 'credentials']) fs.mkdirSync(dirs[d], { mode: 0o700 });
      const kmipPort = await freePort();
      // Ports the system picked rather than npm start's fixed defaults (7001, 7002 …), which another stack on this
      // machine may be taking at the same moment; start.js keeps the ports of an existing stack.json while they are free.
      const ports: Record<string, number> = {};
      for (const k of ['redisPort', 'emulatorPort', 'wrappingPort', 'lifecyclePort', 'gatewayHealthPort', 'lifecycleHealthPort', 'wrappingHealthPort',
        'gatewayMetricsPort', 'lifecycleMetricsPort', 'wrappingMetricsPort']) ports[k] = await freePort();
      fs.mkdirSync(dirs.data, { mode: 0o700 });
      fs.writeFileSync(path.join(dirs.data, 'stack.json'), JSON.stringify(ports, null, 2) + '\n');
      // crk-wrapping inherits this, as it would from `WRAPPING_CREDENTIALS_DIR=… npm start`: the guide's file: reference needs it.
      const saved = process.env.WRAPPING_CREDENTIALS_DIR;
      process.env.WRAPPING_CREDENTIALS_DIR = dirs.credentials;
      let running: Running;
      try {
        running = await start(dirs.data, kmipPort);
      } finally {
        if (saved === undefined) delete process.env.WRAPPING_CREDENTIALS_DIR;
        else process.env.WRAPPING_CREDENTIALS_DIR = saved;
      }
      const state = JSON.parse(fs.readFileSync(path.join(dirs.data, 'stack.json'), 'utf8')) as { emulatorPort: number };
      w = {
        running, dataDir: dirs.data, workDir: dirs.work, stateDir: dirs.state, credentialsDir: dirs.credentials, kmipPort,
        emulatorUrl: `http://127.0.0.1:${state.emulatorPort}`, apiKey: fs.readFileSync(path.join(dirs.data, 'emulator-api-key'), 'utf8').trim(),
        instance: randomUUID(), rootKey: '', hpcsInstance: randomUUID(), vcenterKeys: {}, uids: {}, results: {},
      };
      // The customer's instances as the old service left them: the Key Protect one with its root key and one of
      // the old service's wrapped keys; the HPCS one (the HPCS endpoint speaks the same API).
      await ensureInstance(w.instance);
      await ensureInstance(w.hpcsInstance);
      w.rootKey = await createKey('vmware-kmip-root', false);
      await createKey(`vmware_kmip_${randomUUID()}`, true);
      // What the guide's kubectl step puts in the Secret, and the KMIP CA it names.
      fs.writeFileSync(path.join(w.credentialsDir, 'initech-hpcs'), `${w.apiKey}\n`, { mode: 0o600 });
      fs.copyFileSync(path.join(w.dataDir, 'pki', 'ca.crt'), path.join(w.workDir, 'kmip-ca.crt'));
      fs.copyFileSync(path.join(w.dataDir, 'pki', 'ca.key'), path.join(w.workDir, 'kmip-ca.key'));
    }, 150_000);

    afterAll(async () => {
      if (w) await stop(w.running);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }, 60_000);

    test.each(tested.map((b): [string, Block] => [`${b.step} (line ${b.line})`, b]))('%s', async (_name, block) => {
      expect(w).toBeDefined();
      before[block.step!]?.();
      const commands = shellCommands(substitute(block.body));
      const placeholders = commands.flatMap((c) => c.match(/<[A-Z][A-Z0-9_]*>/g) ?? []);
      expect({ placeholders }).toEqual({ placeholders: [] });
      const env: Record<string, string> = { ...process.env as Record<string, string> };
      // The test's stack, not one the environment names.
      delete env.KEYWARDEN_ADMIN_ADDR;
      delete env.KEYWARDEN_DATA_DIR;
      const results = runBlock({
        workDir: w!.workDir, stateDir: w!.stateDir, env, input: `${w!.apiKey}\n`,
        keywarden: `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(root, 'libs/cli/dist/main.js'))} --data-dir ${JSON.stringify(w!.dataDir)} "$@"`,
      }, commands);
      w!.results[block.step!] = results;
      // Each command ran and exited 0 (the report shows what it printed, never the API key: no command prints it).
      expect(results.map((r) => ({ command: r.command, code: r.code, stderr: r.code === 0 ? '' : r.stderr }))).toEqual(commands.map((command) => ({ command, code: 0, stderr: '' })));
      expectations[block.step!]?.(results);
      await after[block.step!]?.();
    }, 120_000);

    test("keywarden's keys in the customer's instance are named kmip-<uid>: the guide's vmware_kmip clean-up cannot catch them", async () => {
      const names = (await keyProtect('GET', 'keys?limit=5000')).resources.map((k) => k.name);
      const acme = Object.values(w!.uids);
      expect(acme).toHaveLength(Object.keys(VMS).length);
      expect(names.filter((n) => n.startsWith('vmware_kmip'))).toHaveLength(1);
      expect(acme.map((uid) => names.filter((n) => n.includes(uid)))).toEqual(acme.map(() => [expect.stringMatching(/^kmip-/)]));
    });
  });
});
