#!/usr/bin/env node
// keyprotect-emulator CLI (dev and test only).
//   --port N (or KP_EMULATOR_PORT; default 7080)   --host H (default 127.0.0.1)
//   --data-dir DIR   persist state across restarts
//   --tls-cert F --tls-key F   serve HTTPS
//   --api-key K (repeatable; default: any non-empty key)   --token-ttl S
//   --api-key-file F   accept the key in F (first line) too; unlike --api-key it
//                      is not visible to other local users in the process list
//   --instance GUID (repeatable; or KP_EMULATOR_INSTANCES=GUID,GUID)   a service
//                      instance that exists; requests for any other get 401
//                      (more at run time: POST /_emulator/instances {"id": GUID})
//   --rotation-interval S   --action-cooldown S   (service limits, IBM's by default:
//                      3600 and 30; 0 switches one off)
//   --latency-ms N --error-rate R --error-status S --retry-after S --down   (faults)
import fs from 'fs';
import { parseArgs } from 'util';
import { envInt } from '@keywarden/common';
import type { Limits } from './api';
import { startEmulator } from './emulator';
import { checkFaults } from './faults';

/** The accepted API keys: --api-key values and the first line of --api-key-file; undefined = any key. */
function apiKeys(inline: string[] | undefined, file: string | undefined): string[] | undefined {
  if (!inline && !file) return undefined;
  const keys = [...(inline ?? [])];
  if (file) {
    const k = fs.readFileSync(file, 'utf8').split(/\r?\n/)[0].trim();
    if (!k) throw new Error(`--api-key-file ${file} is empty`);
    keys.push(k);
  }
  return keys;
}

/** Only the limits given on the command line; the others keep IBM's values. */
function limits(rotationIntervalSeconds: number | undefined, actionCooldownSeconds: number | undefined): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (rotationIntervalSeconds !== undefined) out.rotationIntervalSeconds = rotationIntervalSeconds;
  if (actionCooldownSeconds !== undefined) out.actionCooldownSeconds = actionCooldownSeconds;
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      'api-key-file': { type: 'string' },
      instance: { type: 'string', multiple: true },
      'token-ttl': { type: 'string' },
      'rotation-interval': { type: 'string' },
      'action-cooldown': { type: 'string' },
      'latency-ms': { type: 'string' },
      'error-rate': { type: 'string' },
      'error-status': { type: 'string' },
      'retry-after': { type: 'string' },
      down: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n');
    return;
  }
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a non-negative integer`);
    return Number(v);
  };
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new Error('--tls-cert and --tls-key go together');
  const faults: Record<string, unknown> = {};
  if (values['latency-ms'] !== undefined) faults.latencyMs = values['latency-ms'];
  if (values['error-rate'] !== undefined) faults.errorRate = values['error-rate'];
  if (values['error-status'] !== undefined) faults.errorStatus = values['error-status'];
  if (values['retry-after'] !== undefined) faults.retryAfterSeconds = values['retry-after'];
  if (values.down) faults.down = true;
  const emu = await startEmulator({
    port: int(values.port, 'port') ?? envInt('KP_EMULATOR_PORT', 7080, 0, 65535),
    host: values.host,
    dataDir: values['data-dir'],
    tls: values['tls-cert'] && values['tls-key'] ? { cert: fs.readFileSync(values['tls-cert']), key: fs.readFileSync(values['tls-key']) } : undefined,
    apiKeys: apiKeys(values['api-key'], values['api-key-file']),
    tokenTtlSeconds: int(values['token-ttl'], 'token-ttl'),
    instances: [...(values.instance ?? []), ...(process.env.KP_EMULATOR_INSTANCES ?? '').split(',').map((s) => s.trim()).filter(Boolean)],
    limits: limits(int(values['rotation-interval'], 'rotation-interval'), int(values['action-cooldown'], 'action-cooldown')),
    faults: checkFaults(faults),
  });
  process.stdout.write(`keyprotect-emulator listening on ${emu.url} (dev and test only; IAM token endpoint ${emu.url}/identity/token)\n`);
  const stop = () => { emu.close().then(() => process.exit(0), () => process.exit(1)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`keyprotect-emulator: ${(e as Error).message}\n`);
  process.exit(1);
});
