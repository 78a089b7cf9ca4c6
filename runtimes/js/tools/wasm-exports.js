#!/usr/bin/env node
// The wasm module's exports, listed once: the kernels the OPS rows name plus
// WASM_HELPERS (src/ops.js).
//   node tools/wasm-exports.js           the names, one line (the Makefile's --export flags)
//   node tools/wasm-exports.js --module  {"exports": [...]}: the names the committed module's
//                                        instance (src/kernels.wasm.js) exports, in module order
import { gunzipSync } from 'node:zlib';
import { OPS, WASM_HELPERS } from '../src/ops.js';

const arg = process.argv[2];
if (arg === undefined) {
  const names = new Set(WASM_HELPERS);
  for (const { wasm } of Object.values(OPS)) if (wasm) names.add(wasm.fn);
  console.log([...names].sort().join(' '));
} else if (arg === '--module') {
  const { default: b64 } = await import('../src/kernels.wasm.js');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(gunzipSync(Buffer.from(b64, 'base64'))), {});
  console.log(JSON.stringify({ exports: Object.keys(instance.exports) }));
} else {
  process.stderr.write('usage: wasm-exports.js [--module]\n');
  process.exit(2);
}
