import { ServiceError } from '@keywarden/common';

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
