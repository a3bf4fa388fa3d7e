import fs from 'fs';
import os from 'os';
import path from 'path';

// SoftHSM2 reads SOFTHSM2_CONF from the real process environment, which a
// test file cannot change (jest gives it a copy): point it at a fresh token
// directory before the test processes start. Each test file adds its own token.
export default function setup(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-softhsm-'));
  fs.mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  process.env.KW_SOFTHSM_DIR = dir;
}
