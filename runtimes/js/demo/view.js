// What the demo page can show for a model: the 8x8 drawing fed as (1, 64) or
// (1, 1, 8, 8), and its output read as a reconstruction or as class scores.
// Pure functions of the loaded model and its document (no DOM), so the page
// and the tests share them.

export const SIDE = 8; // the page draws 8x8 digits
export const PIXELS = SIDE * SIDE;
const MAX_CLASSES = 100; // more bars than this would not be a readable chart

const isSymbol = (d) => typeof d === 'string';
const sameDims = (a, b) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The op that computes a graph value, or null for an input or initializer. */
function producerOp(doc, name) {
  const node = doc.graph.nodes.find((n) => n.outputs[0] === name);
  return node ? node.op : null;
}

/**
 * How the page uses `model` (a loaded Model; `doc` its parsed document):
 *   { kind: 'autoencoder', input, output }
 *   { kind: 'classifier', input, output, scores: 'probabilities' | 'logits' | 'log-probabilities', label }
 *   { kind: 'unsupported', why }
 * `input`: { name, shape (the feature dims after the batch), oneAtATime (batch fixed at 1) };
 * `output`, `label`: output names (`label`: an int32 (N) output holding the class, or null).
 */
export function describeModel(model, doc) {
  const no = (why) => ({ kind: 'unsupported', why });
  if (model.inputs.length !== 1) {
    return no(`the model has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}); this page feeds one 8x8 image`);
  }
  const [inp] = model.inputs;
  if (inp.dtype !== 'float32') return no(`input ${inp.name} is ${inp.dtype}; this page feeds float32 pixels`);
  const feature = inp.shape.slice(1);
  if (!sameDims(feature, [PIXELS]) && !sameDims(feature, [1, SIDE, SIDE])) {
    return no(`input ${inp.name} has shape ${JSON.stringify(inp.shape)}; this page feeds an 8x8 image as (N, 64) or (N, 1, 8, 8)`);
  }
  const batch = inp.shape[0];
  if (!isSymbol(batch) && batch !== 1) return no(`input ${inp.name} has a fixed batch of ${batch}; this page runs one image at a time`);
  const input = { name: inp.name, shape: feature, oneAtATime: batch === 1 };
  const perImage = (o) => o.shape.length >= 1 && o.shape[0] === batch;
  const floats = model.outputs.filter((o) => o.dtype === 'float32' && perImage(o));

  const scoreKind = (o) => ({ Softmax: 'probabilities', LogSoftmax: 'log-probabilities' })[producerOp(doc, o.name)] || 'logits';
  const isScores = (o) => o.shape.length === 2 && !isSymbol(o.shape[1]) && o.shape[1] >= 2 && o.shape[1] <= MAX_CLASSES;
  // a Softmax output is class probabilities even with 64 classes
  const probs = floats.find((o) => isScores(o) && scoreKind(o) !== 'logits');
  const recon = floats.find((o) => sameDims(o.shape.slice(1), feature) || sameDims(o.shape.slice(1), [PIXELS]));
  if (recon && !probs) return { kind: 'autoencoder', input, output: recon.name };
  const scores = probs || floats.find(isScores);
  if (scores) {
    const label = model.outputs.find((o) => o.dtype === 'int32' && o.shape.length === 1 && o.shape[0] === batch);
    return { kind: 'classifier', input, output: scores.name, scores: scoreKind(scores), label: label ? label.name : null };
  }
  const list = model.outputs.map((o) => `${o.name} ${o.dtype} ${JSON.stringify(o.shape)}`).join(', ');
  return no(`its outputs (${list}) are neither an 8x8 reconstruction nor (N, K) class scores with 2 to ${MAX_CLASSES} classes`);
}

/** The feed of `count` images (count * 64 pixels, row-major) for the view's input. */
export function imageFeed(view, pixels, count = 1) {
  return { [view.input.name]: { shape: [count, ...view.input.shape], data: pixels } };
}

/** Class probabilities to draw (double, display only) from the model's scores. */
export function displayProbabilities(scores, kind) {
  const v = Array.from(scores);
  if (kind === 'probabilities') return v;
  const logp = kind === 'log-probabilities' ? v : (() => {
    const m = Math.max(...v);
    const lse = m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
    return v.map((x) => x - lse);
  })();
  return logp.map(Math.exp);
}

/** Index of the largest value, the first on ties; NaN counts as largest (as ArgMax, SPEC 7). */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) {
    if (values[best] !== values[best]) break;
    if (values[i] !== values[i] || values[i] > values[best]) best = i;
  }
  return best;
}

/** A float32 or int32 array's 32-bit patterns as 8-digit hex, comma separated. */
export function hexBits(data) {
  const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
  return Array.from(u, (b) => b.toString(16).padStart(8, '0')).join(',');
}
