import fs from 'fs';

export default function teardown(): void {
  const dir = process.env.KW_SOFTHSM_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
