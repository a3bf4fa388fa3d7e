// Readable hex for golden vectors and debugging: "42 00 01 | 02 | 00 00 00 04 | ...".
// Separators and whitespace are ignored.

export function fromHex(s: string): Buffer {
  const clean = s.replace(/[\s|:_]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex: ${s.slice(0, 40)}`);
  return Buffer.from(clean, 'hex');
}

/** Hex dump of a TTLV buffer, one item header per line, for test failure messages. */
export function toHex(b: Buffer): string {
  return b.toString('hex').replace(/(..)/g, '$1 ').trim();
}
