#!/usr/bin/env node
// `npm start`: the whole keywarden stack on local defaults, through the one
// stack launcher (libs/stack).
//   --data-dir DIR   state, PKI (DIR/pki: ca.crt, client.crt, client.key), logs and stack.json (default ./var)
//   --ha             regional HA on this machine: two gateways (two KMIP ports), two key-lifecycles,
//                    two crk-wrappings, Redis master + replica + 3 Sentinels
//   --provider P     emulator (default) or softhsm: where the first tenant's root key lives
//   --verbose        service logs on the terminal instead of DIR/logs/*.log
// Environment: KMIP_PORT (default 5696), KMIP_PORT_2 (--ha: the second gateway's, default KMIP_PORT + 1),
// REDIS_URL (default: start a local redis-server with AOF in DIR/redis), KMIP_HOST (default 0.0.0.0),
// WRAPPING_CREDENTIALS_DIR (default DIR/credentials), KEYWARDEN_FREE_PORTS=1 (a new data directory gets
// free ports chosen by the system instead of the defaults 7001, 7002, 7080, ...: for tests running side by side).
//
// It behaves like a service: one stack per data directory (DIR/stack.lock),
// SIGINT, SIGTERM or SIGHUP stops every component and exits 0, a component
// that exits on its own stops the stack with exit 1 (with --ha it is started
// again instead), and a stack that did not come up exits non-zero.
'use strict';
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');

function launcher() {
  try {
    return require(path.join(__dirname, '..', 'libs', 'stack', 'dist', 'index.js'));
  } catch (e) {
    throw new Error(`cannot load the stack launcher: run \`npm run build\` first (${e.message})`);
  }
}

function port(name, value, dflt) {
  const p = Number(value || dflt);
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`${name} must be a port number`);
  return p;
}

/** The second gateway's KMIP port: KMIP_PORT_2, else the one this data directory used before, else KMIP_PORT + 1. */
function secondKmipPort(dataDir, first) {
  if (process.env.KMIP_PORT_2) return port('KMIP_PORT_2', process.env.KMIP_PORT_2);
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).kmip2Port;
    if (Number.isInteger(saved)) return saved;
  } catch {
    // first run
  }
  return first + 1;
}

function readyLine(stack) {
  const rel = (p) => {
    const r = path.relative(process.cwd(), p);
    return r && !r.startsWith('..') ? r : p;
  };
  const pki = rel(stack.pkiDir);
  const kmip = stack.kmipPorts.map((p) => `127.0.0.1:${p}`);
  const where = stack.kmipPorts.length > 1 ? `KMIP on ${kmip.join(' and ')} (a KMS cluster of ${kmip.length} servers: add each to vCenter; mTLS;` : `KMIP on ${kmip[0]} (mTLS;`;
  const ha = stack.topology === 'ha' ? `; Redis master + replica + 3 Sentinels; every component, pid and port in ${rel(stack.statePath)}` : '';
  return `keywarden ready: ${where} CA ${pki}/ca.crt, client ${pki}/client.crt + client.key), admin API ${stack.adminAddress}, console ${stack.consoleUrl} (trust ${pki}/ca.crt; accounts: npx keywarden operator add NAME --role admin)${ha}`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' }, verbose: { type: 'boolean' }, ha: { type: 'boolean' }, provider: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: npm start -- [--data-dir DIR] [--ha] [--provider emulator|softhsm] [--verbose]\n' +
      '  env: KMIP_PORT (5696), KMIP_PORT_2 (--ha: KMIP_PORT + 1), REDIS_URL (local redis-server), KMIP_HOST (0.0.0.0),\n' +
      '       WRAPPING_CREDENTIALS_DIR (DIR/credentials)');
    return;
  }
  const provider = values.provider || 'emulator';
  if (provider !== 'emulator' && provider !== 'softhsm') throw new Error('--provider must be emulator or softhsm');
  const dataDir = path.resolve(values['data-dir'] || 'var');
  const first = port('KMIP_PORT', process.env.KMIP_PORT, 5696);
  const kmipPorts = values.ha ? [first, secondKmipPort(dataDir, first)] : [first];
  if (values.ha && process.env.REDIS_URL) throw new Error('--ha runs its own Redis with Sentinels: unset REDIS_URL');
  const { Stack } = launcher();
  const stack = new Stack({
    dataDir, ha: values.ha, provider, kmipPorts, kmipHost: process.env.KMIP_HOST || '0.0.0.0',
    redis: process.env.REDIS_URL ? { url: process.env.REDIS_URL } : undefined, preferDefaultPorts: process.env.KEYWARDEN_FREE_PORTS !== '1',
    verbose: values.verbose, log: (m) => console.log(m),
  });

  let ready = false;
  let stopping = false;
  const stop = async (why, code) => {
    if (stopping) return;
    stopping = true;
    console.log(`keywarden: ${why}, stopping (data kept in ${stack.dataDir})`);
    await stack.stop();
    process.exit(code);
  };
  // A signal to this process (npm forwards its own to it) stops the stack; during the start, non-zero: it never came up.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void stop(sig, ready ? 0 : 130));
  stack.onFailure = (name, message) => void stop(message, 1);
  try {
    await stack.start();
  } catch (e) {
    if (stopping) return; // a signal came first; stop() exits
    stopping = true;
    console.error(`keywarden: ${e.message}`);
    await stack.stop();
    process.exit(1);
  }
  ready = true;
  console.log(readyLine(stack));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`keywarden: ${e.message}`);
    process.exit(1);
  });
}

module.exports = { readyLine };
