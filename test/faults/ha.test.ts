// Regional HA under load: the stack of `npm start -- --ha` (the stack
// launcher, services as processes from dist/: two gateways on two KMIP ports,
// two key-lifecycles, two crk-wrappings, Redis master + replica + 3
// Sentinels, the emulator), a client that uses the second KMIP endpoint when
// the first fails, and one fault after another (test/perf/ha-faults.ts).
// Shorter faults than the benchmark (`npm run bench:ha -w test`: the full
// 20 s provider outage), to keep CI time modest.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ResultStatus, vcenter } from '@keywarden/kmip';
import { Stack, StackState } from '@keywarden/stack';
import { ClusterClient, faultTable, recordedPid, runFaults, stackCredentials } from '../perf/ha-faults';

const root = path.resolve(__dirname, '..', '..');
let dataDir: string;
let stack: Stack;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-ha-'));
  stack = new Stack({ dataDir, ha: true, persistent: false, kmipPorts: [0, 0], kmipHost: '127.0.0.1', console: false });
  await stack.start();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

test('the HA topology: two of every service, Redis master + replica + 3 Sentinels, each in stack.json with role, pid and ports', () => {
  const st = JSON.parse(fs.readFileSync(stack.statePath, 'utf8')) as StackState;
  const byRole = (role: string) => (st.components ?? []).filter((c) => c.role === role);
  for (const role of ['kmip-gateway', 'key-lifecycle', 'crk-wrapping', 'redis']) expect({ role, n: byRole(role).length }).toEqual({ role, n: 2 });
  expect(byRole('sentinel')).toHaveLength(3);
  expect(byRole('keyprotect-emulator')).toHaveLength(1);
  for (const c of st.components ?? []) {
    expect(c.pid).toBe(stack.component(c.name)?.pid);
    expect(Object.values(c.ports).length).toBeGreaterThan(0);
  }
  expect(byRole('kmip-gateway').map((c) => c.ports.kmip)).toEqual(stack.kmipPorts);
  // The ready line of `npm start -- --ha` names both KMIP endpoints.
  const { readyLine } = require(path.join(root, 'scripts/start.js')) as { readyLine: (s: Stack) => string };
  const line = readyLine(stack);
  for (const p of stack.kmipPorts) expect(line).toContain(`127.0.0.1:${p}`);
});

test('faults under load: no acknowledged Create lost, service back within seconds of each kill, cached keys served through a provider outage', async () => {
  const { reports } = await runFaults(stack, { rate: 5, baselineMs: 3000, observeMs: 6000, outageMs: 6000 });
  console.log(`HA faults (CI durations: 6 s outage):\n${faultTable(reports)}`);
  expect(reports).toHaveLength(5);
  for (const r of reports) {
    expect({ fault: r.fault, lost: r.lost }).toEqual({ fault: r.fault, lost: 0 });
    expect(r.acknowledged).toBeGreaterThan(0);
    // Failures are answers within the gateway's deadline, never hangs.
    expect(r.slowestFailureMs).toBeLessThan(12_000);
  }
  // The aim is 5 s for every kill; the Redis master's (about 4 s measured: Sentinel's 1.5 s down-after, the
  // promotion, the old master back as a replica for WAIT) gets headroom for a loaded CI machine.
  for (const r of reports.filter((x) => x.fault.startsWith('kill'))) {
    const bound = r.fault.includes('Redis') ? 7500 : 5000;
    expect({ fault: r.fault, back: r.backAfterMs !== undefined && r.backAfterMs <= bound }).toEqual({ fault: r.fault, back: true });
  }
  const outage = reports[4];
  expect(outage.cachedGets!.tried).toBeGreaterThan(0);
  expect(outage.cachedGets!.served).toBeGreaterThan(0);
  expect(outage.backAfterMs).toBeDefined();
}, 300_000);

test('no quorum: with two Sentinels of three down, the killed master is not replaced (no split brain), and Creates fail with a KMIP error within the deadline', async () => {
  const sentinel = stack.sentinel!;
  await sentinel.waitReady(30_000);
  const masterPort = (await sentinel.masterPort())!;
  const master = stack.components.find((c) => c.role === 'redis' && c.ports.redis === masterPort)!;
  const replica = stack.components.find((c) => c.role === 'redis' && c !== master)!;
  const client = new ClusterClient(stack.kmipPorts, stackCredentials(dataDir), 15_000);
  try {
    expect((await client.send(vcenter.create(1))).batchItems[0].resultStatus).toBe(ResultStatus.Success);
    await stack.pause('sentinel-2');
    await stack.pause('sentinel-3');
    process.kill(recordedPid(stack, master.name), 'SIGKILL');
    const end = Date.now() + 8000;
    let tries = 0;
    while (Date.now() < end) {
      const t = Date.now();
      const item = (await client.send(vcenter.create(2))).batchItems[0];
      tries++;
      expect(item.resultStatus).toBe(ResultStatus.OperationFailed);
      expect(item.resultMessage).toMatch(/temporarily unavailable/);
      expect(Date.now() - t).toBeLessThan(12_000);
      // The lone Sentinel cannot promote the replica: it is still a replica, so no second master takes writes.
      const role = (await sentinel.command(replica.ports.redis, ['ROLE'])) as unknown[];
      expect(role[0]).toBe('slave');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(tries).toBeGreaterThan(0);
  } finally {
    await stack.resume('sentinel-2');
    await stack.resume('sentinel-3');
  }
  // With a majority back, the Sentinels fail over (or the old master returns) and Creates succeed again.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const item = (await client.send(vcenter.create(3))).batchItems[0];
    if (item.resultStatus === ResultStatus.Success) break;
    if (Date.now() > deadline) throw new Error(`Creates still fail: ${item.resultMessage}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  client.close();
}, 180_000);
