import { WorkGate } from '../src/work-gate';

/** A gate that also records how many runs overlapped (tests of the bounds of work-gate.ts). */
export class WatchedGate extends WorkGate {
  running = 0;
  most = 0;

  override run<T>(fn: () => Promise<T>): Promise<T> {
    return super.run(async () => {
      this.most = Math.max(this.most, ++this.running);
      try {
        return await fn();
      } finally {
        this.running--;
      }
    });
  }
}
