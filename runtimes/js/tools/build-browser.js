#!/usr/bin/env node
// The browser build: src/index.js and everything it imports (the embedded
// wasm included) as one minified ES module, dist/tessera.min.js, with esbuild
// (a dev dependency). `npm run build`; `npm pack` runs it first (prepack).
// Node keeps importing the unminified src/ (package.json "exports": the
// "browser" condition picks this file, "default" picks src/index.js).
// The one Node-only import (node:fs/promises, reached only when a model is
// given as a file path under Node) stays external: it is loaded lazily and
// never in a browser.
//   node tools/build-browser.js [OUTFILE]
import { build } from 'esbuild';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.resolve(process.argv[2] || path.join(PKG, 'dist', 'tessera.min.js'));
const { version } = JSON.parse(readFileSync(path.join(PKG, 'package.json'), 'utf8'));

const result = await build({
  entryPoints: [path.join(PKG, 'src', 'index.js')],
  outfile,
  write: false,
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  external: ['node:*'],
  legalComments: 'none',
  banner: { js: `// tessera-exact ${version} browser build (MIT); source: src/ of the package` },
  logLevel: 'warning',
});
// written whole, then renamed: a concurrent `npm pack` (the tests pack in
// parallel processes) reads the old file or the new one, never half of one
const [out] = result.outputFiles;
const bytes = Buffer.from(out.contents);
mkdirSync(path.dirname(outfile), { recursive: true });
const tmp = `${outfile}.${process.pid}.tmp`;
writeFileSync(tmp, bytes);
renameSync(tmp, outfile);
console.error(`${path.relative(process.cwd(), outfile)}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} bytes gzip level 9 (zlib)`);
