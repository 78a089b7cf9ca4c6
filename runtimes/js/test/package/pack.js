// The package as a user gets it: `npm pack` in runtimes/js (its prepack
// builds dist/), the tarball installed into an empty project in a temporary
// directory outside the checkout. Shared by the Node and the browser package
// tests (each packs its own tarball: the build writes dist/ atomically, so
// parallel packs read whole files).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PKG } from '../helpers.js';

export const NAME = JSON.parse(readFileSync(path.join(PKG, 'package.json'), 'utf8')).name;

export function npm(args, cwd) {
  // a registry that refuses connections: the package has no dependencies, so
  // packing and installing it must not need the network
  const env = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_update_notifier: 'false' };
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error) throw new Error(`npm ${args.join(' ')}: ${r.error.message} (is npm installed?)`);
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} in ${cwd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `npm pack`, then `npm install TARBALL` in a new empty project; removed after the test. */
export function packAndInstall(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-npm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], PKG));
  const tarball = path.join(dir, info.filename);
  const project = path.join(dir, 'app');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'),
    JSON.stringify({ name: 'tessera-npm-test', version: '1.0.0', private: true, type: 'module' }, null, 2));
  npm(['install', tarball, '--no-audit', '--no-fund'], project);
  return { dir, tarball, project, info, files: info.files.map((f) => f.path).sort(), installed: path.join(project, 'node_modules', NAME) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A case's expected outputs as {name: {shape, int, bits}} (float32 as bit patterns, NaN as 'nan'). */
export function expectedOf(doc) {
  const out = {};
  for (const [name, t] of Object.entries(doc.outputs)) {
    const int = t.dtype === 'int32';
    out[name] = { shape: t.shape, int, bits: t.data.map((v) => (int ? v : bitsOf({ inf: Infinity, '-inf': -Infinity, nan: NaN }[v] ?? v))) };
  }
  return out;
}

/** Float32 bits as a number, every NaN as 'nan' (any payload matches). */
export function bitsOf(x) {
  f32[0] = x;
  return x !== x ? 'nan' : u32[0];
}
