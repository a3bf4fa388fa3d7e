/**
 * Settles as `p` does, or rejects with `onTimeout()` when `p` has not settled
 * within `ms`. The timer is cleared either way; `p` itself is not cancelled.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
