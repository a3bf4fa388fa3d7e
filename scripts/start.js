#!/usr/bin/env node
// `npm start`: the whole keywarden stack on local defaults.
//   --data-dir DIR   state, PKI (DIR/pki: ca.crt, client.crt, client.key) and logs (default ./var)
//   --verbose        service logs on the terminal instead of DIR/logs/*.log
// Environment: KMIP_PORT (default 5696), REDIS_URL (default: start a local
// redis-server with AOF in DIR/redis), KMIP_HOST (default 0.0.0.0).
'use strict';
const path = require('path');
const { parseArgs } = require('util');
const { LocalStack } = require('./lib/local-stack');

async function main() {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log('usage: npm start -- [--data-dir DIR] [--verbose]\n  env: KMIP_PORT (5696), REDIS_URL (local redis-server), KMIP_HOST (0.0.0.0)');
    return;
  }
  const kmipPort = Number(process.env.KMIP_PORT || 5696);
  if (!Number.isInteger(kmipPort) || kmipPort < 0 || kmipPort > 65535) throw new Error('KMIP_PORT must be a port number');
  const stack = new LocalStack({
    dataDir: values['data-dir'] || 'var',
    kmipPort,
    redisUrl: process.env.REDIS_URL || undefined,
    verbose: values.verbose,
    log: (m) => console.log(m),
  });
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`keywarden: ${signal}, stopping (data kept in ${stack.dataDir})`);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  stack.onUnexpectedExit = () => void stop('a service exited');
  try {
    const s = await stack.start();
    const rel = path.relative(process.cwd(), s.pkiDir);
    const pki = rel && !rel.startsWith('..') ? rel : s.pkiDir;
    console.log(`keywarden ready: KMIP on 127.0.0.1:${s.kmipPort} (mTLS; CA ${pki}/ca.crt, client ${pki}/client.crt + client.key), admin API ${s.adminAddress}, console ${s.consoleUrl} (trust ${pki}/ca.crt; accounts: npx keywarden operator add NAME --role admin)`);
  } catch (e) {
    console.error(`keywarden: ${e.message}`);
    await stack.stop();
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`keywarden: ${e.message}`);
  process.exit(1);
});
