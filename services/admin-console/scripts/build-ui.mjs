// Builds the console's page into dist/public: the Preact app bundled and
// minified by esbuild (app.js), its style sheet, and index.html. Nothing is
// loaded from elsewhere at run time. Prints the sizes (docs/console.md).
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'public');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

await build({
  entryPoints: [path.join(root, 'ui', 'main.tsx')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome111', 'firefox111', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await build({
  entryPoints: [path.join(root, 'ui', 'style.css')],
  outfile: path.join(out, 'app.css'),
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
fs.copyFileSync(path.join(root, 'ui', 'index.html'), path.join(out, 'index.html'));

const sizes = ['app.js', 'app.css', 'index.html'].map((f) => {
  const b = fs.readFileSync(path.join(out, f));
  return `${f} ${(b.length / 1024).toFixed(1)} KiB (gzip ${(zlib.gzipSync(b, { level: 9 }).length / 1024).toFixed(1)} KiB)`;
});
console.log(`admin-console page: ${sizes.join(', ')}`);
