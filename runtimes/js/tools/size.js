#!/usr/bin/env node
// Bundle size: bytes of the ES module graph reachable from src/index.js
// (unminified, the embedded wasm included), raw and gzipped at level 9 (the
// files concatenated, as a bundle is served; `gzip -9` gives the same
// figure within a few bytes), and of all of src/. Budget: 32 KiB gzipped.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
const seen = new Map();
(function walk(file) {
  if (seen.has(file)) return;
  const text = readFileSync(file, 'utf8');
  seen.set(file, text);
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gm)) walk(path.join(path.dirname(file), m[1]));
})(path.join(SRC, 'index.js'));
const graph = [...seen.values()].reduce((a, b) => a + b.length, 0);
const gz = gzipSync(Buffer.from([...seen.values()].join('')), { level: 9 }).length;
const all = readdirSync(SRC).reduce((a, f) => a + readFileSync(path.join(SRC, f)).length, 0);
const emb = /export default '([^']*)'/.exec(readFileSync(path.join(SRC, 'kernels.wasm.js'), 'utf8'))[1];
const wasm = gunzipSync(Buffer.from(emb, 'base64')).length;
console.log(`import graph of src/index.js: ${graph} bytes, ${gz} bytes gzip -9 (budget 32768) (${[...seen.keys()].map((f) => path.basename(f)).join(', ')})`);
console.log(`all of src/ (incl. protocol.js): ${all} bytes; wasm module ${wasm} bytes (embedded gzip+base64: ${emb.length})`);
