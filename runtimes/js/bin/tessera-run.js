#!/usr/bin/env node
// Runtime CLI protocol (SPEC.md section 9):
//   tessera-run.js [--kernels js|wasm|auto] [--repeat N] MODEL.json INPUTS.json
// exit 0 + {"outputs": ...}; exit 1 + {"error": {"code", "message"}}; exit 2 usage.
//   tessera-run.js --ops
// exit 0 + {"ops": [{"name", "arity", "attrs": [sorted names]}, ...]}: the op
// table (src/ops.js OPS), in its order.
// The kernels may also be forced with TESSERA_KERNELS=js|wasm. --repeat N times
// N more runs in-process and prints the median on stderr (run time apart from
// process start and model loading).
import { OPS, load, TesseraError } from '../src/index.js';
import { loadInputs, formatTensor } from '../src/protocol.js';

const USAGE = 'usage: tessera-run.js [--kernels js|wasm|auto] [--repeat N] MODEL.json INPUTS.json\n' +
  '       tessera-run.js --ops\n';

function write(text, code) {
  process.exitCode = code;
  process.stdout.write(text + '\n');
}

/** The op table as one JSON document (Python json.dumps spacing). */
function opsDocument() {
  const q = JSON.stringify;
  const rows = Object.entries(OPS).map(([name, row]) =>
    `{"name": ${q(name)}, "arity": ${q(row.arity).replace(',', ', ')}, "attrs": [${Object.keys(row.attrs).sort().map((a) => q(a)).join(', ')}]}`);
  return `{"ops": [${rows.join(', ')}]}`;
}

async function main(argv) {
  if (argv.length === 1 && argv[0] === '--ops') return write(opsDocument(), 0);
  const pos = [];
  let kernels = process.env.TESSERA_KERNELS || 'auto';
  let repeat = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kernels') {
      if (i + 1 >= argv.length) return usage();
      kernels = argv[++i];
    } else if (a.startsWith('--kernels=')) kernels = a.slice(10);
    else if (a === '--repeat') {
      repeat = Number(argv[++i]);
      if (!Number.isInteger(repeat) || repeat < 0 || repeat > 1e6) return usage();
    }
    else if (a === '-h' || a === '--help' || a === '--ops') return usage();
    else pos.push(a);
  }
  if (pos.length !== 2 || !['js', 'wasm', 'auto'].includes(kernels)) return usage();
  const [modelPath, inputsPath] = pos;
  try {
    const model = await load(modelPath.startsWith('{') ? `./${modelPath}` : modelPath, { kernels });
    const inputs = await loadInputs(inputsPath.startsWith('{') ? `./${inputsPath}` : inputsPath, model.inputs);
    const out = model.run(inputs);
    if (repeat > 0) timeRuns(model, inputs, repeat);
    const parts = model.outputs.map((o) => `${JSON.stringify(o.name)}: ${formatTensor(out[o.name].shape, out[o.name].data)}`);
    write(`{"outputs": {${parts.join(', ')}}}`, 0);
  } catch (e) {
    if (e instanceof TesseraError) {
      write(JSON.stringify({ error: { code: e.code, message: e.detail } }), 1);
    } else {
      // A bug in this runtime, not a rejection: say so plainly, keep the protocol.
      process.stderr.write(`tessera-run: internal error: ${e && e.stack ? e.stack : e}\n`);
      write(JSON.stringify({ error: { code: 'E_INTERNAL', message: `internal error: ${e && e.message}` } }), 1);
    }
  }
}

function timeRuns(model, inputs, repeat) {
  const us = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = process.hrtime.bigint();
    model.run(inputs);
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  us.sort((a, b) => a - b);
  process.stderr.write(`tessera-run: run median ${us[repeat >> 1].toFixed(1)} us over ${repeat} runs (${model.kernels})\n`);
}

function usage() {
  process.stderr.write(USAGE);
  process.exitCode = 2;
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`tessera-run: internal error: ${e && e.stack ? e.stack : e}\n`);
  write(JSON.stringify({ error: { code: 'E_INTERNAL', message: String(e && e.message) } }), 1);
});
