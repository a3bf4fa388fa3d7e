// Ports of a stack. A persistent stack (npm start) keeps the ports it chose
// once in DIR/stack.json: the emulator's is part of every local tenant's
// provider URL, the console's is bookmarked, the CLI finds key-lifecycle
// through the file. A saved port that another program took is an error that
// names it, never a silent move. New ports are chosen by binding.
import net from 'net';

/** A port the system says is free (bound to 127.0.0.1:0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when 127.0.0.1:port can be bound now. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** Default ports of `npm start` (the first replica of each service); later replicas add 10 per replica. */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  redisPort: 7379, emulatorPort: 7080, wrappingPort: 7002, lifecyclePort: 7001,
  gatewayHealthPort: 7411, lifecycleHealthPort: 7412, wrappingHealthPort: 7413,
  gatewayMetricsPort: 9401, lifecycleMetricsPort: 9402, wrappingMetricsPort: 9403,
  consolePort: 8443, consoleHealthPort: 7414, sentinelPort: 27379,
};

/**
 * The stack.json key of a port of replica `n` (1-based): the first keeps the
 * historical name (lifecyclePort), the others number it (lifecycle2Port,
 * lifecycle2HealthPort).
 */
export function portKey(base: string, n: number): string {
  if (n === 1) return base;
  const m = /^([a-z]+)((?:Health|Metrics)?Port)$/.exec(base);
  if (!m) throw new Error(`not a port key: ${base}`);
  return `${m[1]}${n}${m[2]}`;
}

/** The default of a numbered key: the base default plus 10 per replica. */
function defaultOf(key: string): number | undefined {
  const m = /^([a-z]+?)(\d*)((?:Health|Metrics)?Port)$/.exec(key);
  if (!m) return undefined;
  const base = DEFAULT_PORTS[`${m[1]}${m[3]}`];
  return base === undefined ? undefined : base + 10 * (Number(m[2] || 1) - 1);
}

export interface PortProblem {
  key: string;
  port: number;
}

/**
 * Hands out the ports of one run: `saved` ones as they are (after check()),
 * new ones preferring npm start's defaults when `preferDefaults`, else any
 * port the system gives.
 */
export class PortBook {
  private readonly used = new Set<number>();
  /** Keys chosen in this run (not saved before): a bind race on them is retried with another port. */
  readonly fresh = new Set<string>();

  constructor(readonly saved: Record<string, number>, private readonly preferDefaults: boolean) {
    for (const v of Object.values(saved)) this.used.add(v);
  }

  /** Saved ports among `keys` that cannot be bound now. */
  async taken(keys: string[]): Promise<PortProblem[]> {
    const out: PortProblem[] = [];
    for (const key of keys) {
      const port = this.saved[key];
      if (port !== undefined && !(await portFree(port))) out.push({ key, port });
    }
    return out;
  }

  /** The port for `key`: saved, or chosen now and recorded in `saved`. */
  async get(key: string): Promise<number> {
    const have = this.saved[key];
    if (have !== undefined) return have;
    return this.choose(key);
  }

  /** Chooses a new port for `key` (also after a bind race on a fresh one). */
  async choose(key: string): Promise<number> {
    const dflt = this.preferDefaults ? defaultOf(key) : undefined;
    let port = dflt !== undefined && !this.used.has(dflt) && (await portFree(dflt)) ? dflt : 0;
    while (!port || this.used.has(port)) port = await freePort();
    this.used.add(port);
    this.saved[key] = port;
    this.fresh.add(key);
    return port;
  }
}
