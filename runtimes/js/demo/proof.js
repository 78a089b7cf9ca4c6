// The page's proof to its visitor: run the samples of MODEL.expected.json
// (written by `make demo` from the Python reference) with this browser's
// runtime and count the samples whose output bits all equal Python's.
import { readInputsDocument } from '../src/protocol.js';
import { imageFeed } from './view.js';

const isNaN32 = (bits) => (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;

/** The expected document's input pixels and reference outputs; throws an Error saying what is wrong with it. */
export function readExpected(doc, view) {
  if (doc === null || typeof doc !== 'object' || !doc.inputs || !doc.outputs) {
    throw new Error('not a reference outputs file: it needs "inputs" and "outputs"');
  }
  const inputs = readInputsDocument({ inputs: doc.inputs });
  const feed = inputs[view.input.name];
  if (!feed) throw new Error(`it has no input named ${view.input.name}`);
  const count = feed.shape[0];
  if (feed.data.length !== count * 64) throw new Error(`its input ${view.input.name} has shape ${JSON.stringify(feed.shape)}, not N 8x8 images`);
  const outputs = readInputsDocument({ inputs: doc.outputs });
  for (const [name, t] of Object.entries(outputs)) {
    if (t.shape[0] !== count) throw new Error(`its output ${name} has ${t.shape[0]} rows for ${count} samples`);
  }
  return { pixels: feed.data, count, outputs, sha256: typeof doc.model_sha256 === 'string' ? doc.model_sha256 : null };
}

/** Run the expected samples on `model`; { count, same, differences: [{sample, output, index, got, want}] }. */
export function checkSamples(model, view, expected) {
  const { pixels, count, outputs } = expected;
  const runs = []; // one result per sample row range
  if (view.input.oneAtATime) {
    for (let i = 0; i < count; i++) runs.push(model.run(imageFeed(view, pixels.slice(i * 64, (i + 1) * 64), 1)));
  } else {
    runs.push(model.run(imageFeed(view, pixels, count)));
  }
  const rowOf = (name, i) => {
    const r = view.input.oneAtATime ? runs[i][name] : runs[0][name];
    if (!r) return null;
    const per = r.data.length / (view.input.oneAtATime ? 1 : count);
    const at = view.input.oneAtATime ? 0 : i * per;
    return r.data.slice(at, at + per);
  };
  const differences = [];
  let same = 0;
  for (let i = 0; i < count; i++) {
    let ok = true;
    for (const [name, want] of Object.entries(outputs)) {
      const per = want.data.length / count;
      const w = want.data.slice(i * per, (i + 1) * per);
      const g = rowOf(name, i);
      if (g === null || g.length !== w.length) {
        ok = false;
        differences.push({ sample: i, output: name, index: -1, got: g ? `${g.length} values` : 'no such output', want: `${w.length} values` });
        continue;
      }
      const gb = new Uint32Array(g.buffer, g.byteOffset, g.length);
      const wb = new Uint32Array(w.buffer, w.byteOffset, w.length);
      const float = w instanceof Float32Array;
      for (let k = 0; k < wb.length; k++) {
        if (gb[k] === wb[k] || (float && isNaN32(gb[k]) && isNaN32(wb[k]))) continue;
        ok = false;
        differences.push({ sample: i, output: name, index: k, got: hex(gb[k]), want: hex(wb[k]) });
        break;
      }
    }
    if (ok) same++;
  }
  return { count, same, differences };
}

const hex = (b) => `0x${b.toString(16).padStart(8, '0')}`;

/** SHA-256 of bytes as hex, or null where the page has no WebCrypto (not a secure context). */
export async function sha256Hex(bytes) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
