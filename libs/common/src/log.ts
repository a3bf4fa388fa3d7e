import pino from 'pino';

export type Logger = pino.Logger;

// Field names that must never reach a log line with their value. Services also
// avoid logging such values at all; this is the second line of defence.
const REDACT = [
  'plaintext', 'keyMaterial', 'key_material', 'credential', 'apikey', 'apiKey', 'password', 'pin',
  'token', 'accessToken', 'access_token', 'authorization', 'masterKey',
  '*.plaintext', '*.keyMaterial', '*.credential', '*.apikey', '*.apiKey', '*.token', '*.authorization', '*.pin',
];

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
  });
}
