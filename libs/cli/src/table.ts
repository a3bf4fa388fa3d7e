/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: Array<Array<string | number | bigint | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  if (rows.length === 0) return `${line(headers)}\n(none)`;
  return [line(headers), ...cells.slice(1).map(line)].join('\n');
}

export function kv(pairs: Array<[string, string | number | bigint | undefined]>): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v === undefined || v === '' ? '-' : v}`).join('\n');
}
