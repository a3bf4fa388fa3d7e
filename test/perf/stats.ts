// Latency samples and their summary; CPU and memory of processes from /proc.
import fs from 'fs';

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Percentiles (nearest rank) of samples in milliseconds. */
export function summarize(samples: Float64Array | number[]): Summary {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  const at = (p: number) => (n === 0 ? 0 : s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]);
  return { count: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: n ? s[n - 1] : 0 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A growable list of float samples (latencies in ms) that crosses process boundaries as a typed array. */
export class Samples {
  private buf = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  toArray(): Float64Array {
    return this.buf.slice(0, this.length);
  }
}

export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const TICKS = 100; // USER_HZ on Linux

/** User+system CPU seconds used so far by a process (and its reaped children are not included). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in bytes (VmRSS). */
export function processRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
export const fmtInt = (v: number): string => Math.round(v).toLocaleString('en-US');
export const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
