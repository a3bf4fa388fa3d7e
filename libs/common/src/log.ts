import pino from 'pino';

export type Logger = pino.Logger;

// Field names that must never reach a log line with their value. Services also
// avoid logging such values at all; this is the second line of defence.
const REDACT = [
  'plaintext', 'keyMaterial', 'key_material', 'credential', 'apikey', 'apiKey', 'password', 'pin',
  'token', 'accessToken', 'access_token', 'authorization', 'masterKey',
  '*.plaintext', '*.keyMaterial', '*.credential', '*.apikey', '*.apiKey', '*.token', '*.authorization', '*.pin',
];

let stdout: pino.DestinationStream | undefined;

/**
 * Standard output, written asynchronously in chunks of up to 4 KiB: a
 * synchronous write per line was a system call per audited operation (about
 * a tenth of key-lifecycle's CPU per cached Get). pino flushes what is
 * buffered when the process exits, process.exit() included, so a fatal line
 * at start-up is still written. One per process, shared by every logger.
 */
function stdoutDestination(): pino.DestinationStream {
  stdout ??= pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return stdout;
}

/**
 * A structured JSON logger on stdout. Level from LOG_LEVEL (default info;
 * "silent" in tests unless LOG_LEVEL is set).
 */
export function createLogger(service: string, level?: string): Logger {
  const defaultLevel = process.env.JEST_WORKER_ID !== undefined ? 'silent' : 'info';
  return pino({
    name: service,
    level: level ?? process.env.LOG_LEVEL ?? defaultLevel,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, stdoutDestination());
}
