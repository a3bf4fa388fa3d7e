// A bound on expensive work that runs on libuv's thread pool (4 threads,
// shared with every other asynchronous crypto and file operation of the
// process): at most `concurrent` runs at once, at most `maxWaiting` more wait
// in order, and any more are refused at once with the gate's own error, so a
// flood of requests can take neither the thread pool nor memory.
import type { ServiceError } from '@keywarden/common';

export class WorkGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Runs started through this gate since the process began. */
  runs = 0;

  constructor(private readonly concurrent: number, private readonly maxWaiting: number, private readonly busy: () => ServiceError) {
    if (!Number.isInteger(concurrent) || concurrent < 1) throw new Error('a gate lets at least one run at once');
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new Error('a gate cannot let a negative number wait');
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrent) {
      if (this.waiting.length >= this.maxWaiting) throw this.busy();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    this.runs++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
