#!/usr/bin/env node
// grpc.health.v1 Check over mTLS, for Kubernetes exec probes.
//
// key-lifecycle and crk-wrapping serve gRPC health only on their mTLS port, and
// the kubelet's built-in grpc probe cannot present a client certificate, so
// their pods run this instead (deploy/k8s/base). It connects with the pod's own
// certificate and expects the server certificate to name the service.
//
//   node /app/bin/grpc-health-probe.js <host:port> <tls-dir> <name> [service]
//     tls-dir holds ca.crt, <name>.crt and <name>.key (the layout the services read)
//     name    is also the TLS server name checked (the Kubernetes Service name)
//   env PROBE_TIMEOUT_MS (default 3000)
// Exit status 0 when SERVING, 1 otherwise, with the reason on stderr.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const { service: healthService } = require('grpc-health-check');

function fail(message) {
  process.stderr.write(`grpc-health-probe: ${message}\n`);
  process.exit(1);
}

const [address, tlsDir, name, service = ''] = process.argv.slice(2);
if (!address || !tlsDir || !name) fail('usage: grpc-health-probe.js <host:port> <tls-dir> <name> [service]');
const timeoutMs = Number(process.env.PROBE_TIMEOUT_MS || 3000);

let creds;
try {
  const read = (f) => fs.readFileSync(path.join(tlsDir, f));
  creds = grpc.credentials.createSsl(read('ca.crt'), read(`${name}.key`), read(`${name}.crt`));
} catch (e) {
  fail(`cannot read TLS files in ${tlsDir}: ${e.message}`);
}

const Health = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health');
const client = new Health(address, creds, { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name });
client.check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
  client.close();
  if (err) fail(`${address}: ${err.message}`);
  const status = res && res.status;
  if (status === 'SERVING' || status === 1) process.exit(0);
  fail(`${address}: ${String(status)}`);
});
