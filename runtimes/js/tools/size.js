#!/usr/bin/env node
// Bundle size. The budget, 32 KiB gzip -9, is on what a browser downloads: the
// browser build (tools/build-browser.js: esbuild, minified, the wasm embedded),
// built here into a temporary file. Beside it, the raw source a bundler reads:
// the ES module graph reachable from src/index.js (unminified, comments
// included), gzipped as one concatenation (`cat FILES | gzip -9` gives the same
// figure within a few bytes), and all of src/. Exit 1 over the budget.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const BUDGET = 32768;
const TOOLS = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(TOOLS, '..', 'src');
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

const dir = mkdtempSync(path.join(tmpdir(), 'tessera-size-'));
const built = spawnSync(process.execPath, [path.join(TOOLS, 'build-browser.js'), path.join(dir, 'tessera.min.js')], { encoding: 'utf8' });
if (built.status !== 0) {
  process.stderr.write(`size: the browser build failed (esbuild is a dev dependency: npm install in runtimes/js)\n${built.stderr}`);
  process.exit(2);
}
const browser = readFileSync(path.join(dir, 'tessera.min.js'));
rmSync(dir, { recursive: true });

const seen = new Map();
(function walk(file) {
  if (seen.has(file)) return;
  const text = readFileSync(file, 'utf8');
  seen.set(file, text);
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gm)) walk(path.join(path.dirname(file), m[1]));
})(path.join(SRC, 'index.js'));
const graph = Buffer.from([...seen.values()].join(''));
const all = readdirSync(SRC).reduce((a, f) => a + readFileSync(path.join(SRC, f)).length, 0);
const emb = /export default '([^']*)'/.exec(readFileSync(path.join(SRC, 'kernels.wasm.js'), 'utf8'))[1];
const wasm = gunzipSync(Buffer.from(emb, 'base64')).length;
const shipped = gz(browser);
console.log(`browser build (dist/tessera.min.js): ${browser.length} bytes, ${shipped} bytes gzip -9 (budget ${BUDGET}: ${shipped <= BUDGET ? 'met' : 'NOT met'})`);
console.log(`import graph of src/index.js (unminified source): ${graph.length} bytes, ${gz(graph)} bytes gzip -9 (${[...seen.keys()].map((f) => path.basename(f)).join(', ')})`);
console.log(`all of src/ (incl. protocol.js): ${all} bytes; wasm module ${wasm} bytes (embedded gzip+base64: ${emb.length})`);
process.exit(shipped <= BUDGET ? 0 : 1);
