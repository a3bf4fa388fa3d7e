import { ServiceError } from '@keywarden/common';
import { reasonForVersion } from '@keywarden/kmip';

/** The KMIP Result Reason a synchronous model call throws with, or undefined when it succeeds. */
export function reasonOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServiceError) return e.kmipReason;
    throw e;
  }
  return undefined;
}

/**
 * What a KMIP client reads for `reason` raised by `operation`: `v1` in a
 * KMIP 1.4 response (the gateway maps keywarden's reasons down), `v2` in a
 * KMIP 2.1 one (the reason as raised).
 */
export function onWire(reason: number | undefined, operation: number): { v1?: number; v2?: number } {
  if (reason === undefined) return {};
  return { v1: reasonForVersion(reason, operation, '1.4'), v2: reasonForVersion(reason, operation, '2.1') };
}
