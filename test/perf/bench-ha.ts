// Regional HA under faults (`npm run bench:ha -w test`): the stack of
// `npm start -- --ha` (two gateways on two KMIP ports, two key-lifecycles, two
// crk-wrappings, Redis master + replica + 3 Sentinels, the emulator) on a
// throwaway data directory, Create + Get at a steady rate from a client that
// uses the second KMIP endpoint when the first fails, and in turn: kill -9 of
// one gateway, one key-lifecycle, one crk-wrapping, the Redis master, then
// the emulator stopped for 20 s. Prints the fault table of docs/operations.md.
//   HA_RATE (Create + Get pairs per second, 5), HA_OBSERVE_S (after each kill, 10), HA_OUTAGE_S (20)
import { Stack } from '@keywarden/stack';
import { faultTable, runFaults } from './ha-faults';
import { atExit, envSeconds, machineLine, tempDir } from './proc';

async function main(): Promise<void> {
  console.log(machineLine());
  const dataDir = tempDir('ha');
  const stack = new Stack({ dataDir, ha: true, persistent: false, kmipPorts: [0, 0], kmipHost: '127.0.0.1', console: false, log: (l) => console.log(l) });
  atExit(() => { for (const c of stack.components) c.signal('SIGKILL'); });
  const t = Date.now();
  await stack.start();
  console.log(`HA stack ready in ${((Date.now() - t) / 1000).toFixed(1)} s: KMIP on ${stack.kmipPorts.map((p) => `127.0.0.1:${p}`).join(' and ')}`);
  try {
    const r = await runFaults(stack, {
      rate: envSeconds('HA_RATE', 5), observeMs: envSeconds('HA_OBSERVE_S', 10) * 1000, outageMs: envSeconds('HA_OUTAGE_S', 20) * 1000,
      log: (l) => console.log(l),
    });
    console.log(`\n${r.total} Creates acknowledged in all; baseline ${r.baselineRate.toFixed(1)} successful operations/s\n`);
    console.log(faultTable(r.reports));
    const lost = r.reports.reduce((a, x) => a + x.lost, 0);
    if (lost > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
