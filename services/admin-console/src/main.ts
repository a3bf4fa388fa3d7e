// admin-console entry point: configuration from the environment (docs/console.md, "Configuration").
//   CONSOLE_ADDR (0.0.0.0:8443): HTTPS for browsers
//   CONSOLE_HTTPS_CERT_FILE, CONSOLE_HTTPS_KEY_FILE: its server certificate and key (PEM)
//   CONSOLE_TLS_DIR: ca.crt (the internal CA), console.crt, console.key (operator/console identity)
//   LIFECYCLE_ADDR (localhost:7001): the Admin API
//   HEALTH_ADDR (0.0.0.0:9414): plaintext /healthz and /readyz
//   CONSOLE_SESSION_IDLE_MINUTES (15), CONSOLE_SESSION_MAX_HOURS (8), CONSOLE_LOGIN_ATTEMPTS (10 per 5 minutes per address)
import fs from 'fs';
import { createLogger, envInt, envString, loadTlsFiles } from '@keywarden/common';
import { startAdminConsole } from './index';

function readFile(variable: string): Buffer {
  const file = envString(variable);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${variable}: cannot read ${file} (${(e as Error).message})`);
  }
}

async function main(): Promise<void> {
  const log = createLogger('admin-console');
  const svc = await startAdminConsole({
    address: envString('CONSOLE_ADDR', '0.0.0.0:8443'),
    https: { cert: readFile('CONSOLE_HTTPS_CERT_FILE'), key: readFile('CONSOLE_HTTPS_KEY_FILE') },
    adminAddress: envString('LIFECYCLE_ADDR', 'localhost:7001'),
    adminTls: loadTlsFiles(envString('CONSOLE_TLS_DIR'), 'console'),
    healthAddress: envString('HEALTH_ADDR', '0.0.0.0:9414'),
    sessions: {
      idleMs: envInt('CONSOLE_SESSION_IDLE_MINUTES', 15, 1, 24 * 60) * 60_000,
      maxAgeMs: envInt('CONSOLE_SESSION_MAX_HOURS', 8, 1, 7 * 24) * 3_600_000,
    },
    loginAttempts: { max: envInt('CONSOLE_LOGIN_ATTEMPTS', 10, 1, 1000), windowMs: 5 * 60_000 },
    logger: log,
  });
  const stop = () => {
    log.info('shutting down');
    svc.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  createLogger('admin-console').fatal({ err }, 'admin-console failed to start');
  process.exit(1);
});
