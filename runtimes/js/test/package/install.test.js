// The npm package, installed: `npm pack` gives a tarball with exactly the
// files that ship; in an empty project `import { load } from 'tessera-exact'`
// runs a conformance case bit for bit in Node (the unminified src/), the
// `tessera-run` bin speaks the CLI protocol, and under the "browser" export
// condition the same import is the minified dist/ build, which passes every
// conformance case on both kernel paths.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PKG, ROOT } from '../helpers.js';
import { NAME, packAndInstall, expectedOf, bitsOf } from './pack.js';

const CASES = path.join(ROOT, 'conformance', 'cases');
const MANIFEST = JSON.parse(readFileSync(path.join(CASES, 'manifest.json'), 'utf8')).cases;
const ALL = MANIFEST.map((c) => c.name);
const EXPECT = new Map(MANIFEST.map((c) => [c.name, c.expect])); // expected.json or reject.json

// Runs in the installed project: every named case on both kernel paths.
const RUNNER = `
import { createRequire } from 'node:module';
import { load } from '${NAME}';
import { loadInputs } from '${NAME}/protocol';
const [casesDir, ...names] = process.argv.slice(2);
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const bits = (x) => { f32[0] = x; return x !== x ? 'nan' : u32[0]; };
const results = {};
for (const name of names) {
  for (const kernels of ['js', 'wasm']) {
    let r;
    try {
      const model = await load(casesDir + '/' + name + '/model.json', { kernels });
      const inputs = await loadInputs(casesDir + '/' + name + '/inputs.json', model.inputs);
      const out = model.run(inputs);
      r = { kernels: model.kernels, outputs: {} };
      for (const o of model.outputs) {
        const t = out[o.name], int = t.data instanceof Int32Array;
        r.outputs[o.name] = { shape: t.shape, int, bits: Array.from(t.data, (v) => (int ? v : bits(v))) };
      }
    } catch (e) {
      r = typeof e?.code === 'string' && e.code.startsWith('E_') ? { error: e.code } : { internal: String(e?.stack ?? e) };
    }
    results[name + ' ' + kernels] = r;
  }
}
// the file the import resolved to (require.resolve applies --conditions too; Node 18 has no import.meta.resolve)
console.log(JSON.stringify({ resolved: createRequire(import.meta.url).resolve('${NAME}'), results }));
`;

function runIn(project, args) {
  const r = spawnSync(process.execPath, args, { cwd: project, encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `node ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** Every case's result against its expected.json; returns the list of failures. */
function failures(results, names) {
  const bad = [];
  for (const name of names) {
    const want = JSON.parse(readFileSync(path.join(CASES, name, EXPECT.get(name)), 'utf8'));
    for (const kernels of ['js', 'wasm']) {
      const got = results[`${name} ${kernels}`];
      if (!got) { bad.push(`${name} ${kernels}: no result`); continue; }
      if (got.internal) { bad.push(`${name} ${kernels}: ${got.internal}`); continue; }
      if (want.error) {
        if (got.error !== want.error.code) bad.push(`${name} ${kernels}: expected ${want.error.code}, got ${got.error ?? 'outputs'}`);
        continue;
      }
      if (got.error) { bad.push(`${name} ${kernels}: unexpected ${got.error}`); continue; }
      if (got.kernels !== kernels) bad.push(`${name}: asked for ${kernels} kernels, ran ${got.kernels}`);
      try { assert.deepEqual(got.outputs, expectedOf(want)); } catch (e) { bad.push(`${name} ${kernels}: outputs differ: ${e.message.slice(0, 400)}`); }
    }
  }
  return bad;
}

test(`npm pack ships src/, the browser build, the CLI, the declarations, README and LICENSE only; installs and runs in Node`, async (t) => {
  const { files, project, installed } = packAndInstall(t);
  const src = readdirSync(path.join(PKG, 'src')).filter((f) => f.endsWith('.js')).map((f) => `src/${f}`);
  const want = ['LICENSE', 'README.md', 'package.json', 'index.d.ts', 'protocol.d.ts', 'bin/tessera-run.js', 'dist/tessera.min.js', ...src].sort();
  assert.deepEqual(files, want);

  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.name, NAME);
  assert.equal(pkg.license, 'MIT');
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.equal(readFileSync(path.join(installed, 'LICENSE'), 'utf8'), readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'));
  // the installed project holds this package and nothing else
  assert.deepEqual(readdirSync(path.join(project, 'node_modules')).filter((f) => !f.startsWith('.')), [NAME]);

  // import { load } from 'tessera-exact' in Node: the unminified src/
  const cases = ['model_seed_ae_digits_batch1', 'model_embedding_bag'];
  writeFileSync(path.join(project, 'run.mjs'), RUNNER);
  const doc = JSON.parse(runIn(project, ['run.mjs', CASES, ...cases]));
  assert.equal(doc.resolved, path.join(installed, 'src', 'index.js'));
  assert.deepEqual(failures(doc.results, cases), []);

  // the bin: node_modules/.bin/tessera-run speaks the CLI protocol
  const dir = path.join(CASES, 'model_seed_ae_digits_batch1');
  const r = spawnSync(path.join(project, 'node_modules', '.bin', 'tessera-run'), [path.join(dir, 'model.json'), path.join(dir, 'inputs.json')], { cwd: project, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const printed = JSON.parse(r.stdout);
  const expect = expectedOf(JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')));
  assert.deepEqual(printed.outputs.x_hat.data.map(bitsOf), expect.x_hat.bits);

  // the browser build, through the "browser" export condition, in Node: every conformance case
  const all = JSON.parse(runIn(project, ['--conditions=browser', 'run.mjs', CASES, ...ALL]));
  assert.equal(all.resolved, path.join(installed, 'dist', 'tessera.min.js'));
  assert.ok(ALL.length > 300, `${ALL.length} cases`);
  assert.deepEqual(failures(all.results, ALL), []);
  // and it is one self-contained, minified module: no import but the lazy Node file reader
  const bundle = readFileSync(path.join(installed, 'dist', 'tessera.min.js'), 'utf8');
  assert.deepEqual([...bundle.matchAll(/\bimport\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]), ['node:fs/promises']);
  assert.ok(bundle.split('\n').length < 10, 'minified');
});
