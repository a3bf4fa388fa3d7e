// One stack per data directory: DIR/stack.lock holds the pid of the launcher
// that runs it. A second launcher on the same directory would start a second
// redis-server on the same AOF and a second emulator on the same state, and
// rewrite stack.json under the running stack; it stops before touching
// anything instead. A lock whose holder is gone (killed with SIGKILL, machine
// restarted) is taken over.
import fs from 'fs';
import path from 'path';

export class LockedError extends Error {
  constructor(readonly dataDir: string, readonly holderPid: number) {
    super(`another keywarden stack (pid ${holderPid}) runs on ${dataDir}; stop it first (kill -INT ${holderPid}), or give this one another --data-dir`);
  }
}

export interface DataDirLock {
  file: string;
  release(): void;
}

/** True when `pid` is a live process (of any user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes DIR/stack.lock for this process; throws LockedError while another live process holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, 'stack.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LockedError(dataDir, holder(file));
        throw e;
      }
      const pid = holder(file);
      if (pid !== process.pid && processAlive(pid)) throw new LockedError(dataDir, pid);
      // Stale: its holder is gone. Another starter may remove it at the same
      // moment; the exclusive create of the next attempt decides who wins.
      fs.rmSync(file, { force: true });
    }
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      if (holder(file) === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

function holder(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return NaN;
  }
}
