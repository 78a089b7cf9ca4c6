// Strict, bounded JSON reader (SPEC.md sections 1, 5 #1-2, 8). The first
// violation met left to right decides: E_PARSE (syntax, duplicate key, invalid
// UTF-8) or E_LIMIT (nesting deeper than 64). Objects have a null prototype.
import { fail } from './errors.js';
import { MAX_DEPTH, MAX_FILE_BYTES } from './limits.js';

const NUM_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// char code after a backslash -> the character it stands for (\u aside)
const ESCAPES = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

function parseError(pos, what) {
  fail('E_PARSE', `invalid JSON at offset ${pos}: ${what}`);
}

export const tooLarge = (what) => fail('E_LIMIT', `${what} is larger than ${MAX_FILE_BYTES} bytes`);

/** Parse a JSON text held in a JS string. */
export function parseJSONText(text, label = 'document') {
  const n = text.length;
  let i = 0;
  let depth = 0;

  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const expected = (what) => parseError(i, i >= n ? `unexpected end of ${label}` : `expected ${what}`);

  const hex4 = (p) => {
    let v = 0;
    for (let k = p; k < p + 4; k++) {
      const d = parseInt(text[k], 16); // NaN unless one hex digit
      if (Number.isNaN(d)) parseError(k, 'bad \\u escape');
      v = v * 16 + d;
    }
    return v;
  };

  const str = () => { // at the opening quote
    let start = ++i;
    let out = '';
    for (;;) {
      if (i >= n) parseError(i, `unterminated string in ${label}`);
      const c = text.charCodeAt(i);
      if (c === 0x22) return out + text.slice(start, i++);
      if (c < 0x20) parseError(i, 'control character in string');
      if (c >= 0xd800 && c <= 0xdfff) {
        // raw surrogates can only come from a JS string source: must pair
        const d = text.charCodeAt(i + 1);
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) { i += 2; continue; }
        parseError(i, 'unpaired surrogate');
      }
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i++);
      const e = text.charCodeAt(i);
      if (e === 0x75) {
        const u = hex4(i + 1);
        i += 5;
        out += String.fromCharCode(u);
        if (u >= 0xd800 && u <= 0xdfff) { // must be a high surrogate escape, then a low one
          const v = u <= 0xdbff && text.startsWith('\\u', i) ? hex4(i + 2) : -1;
          if (v < 0xdc00 || v > 0xdfff) parseError(i, 'unpaired surrogate escape');
          out += String.fromCharCode(v);
          i += 6;
        }
      } else if (ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
        i++;
      } else parseError(i, 'bad escape');
      start = i;
    }
  };

  const object = () => {
    const obj = Object.create(null);
    if (text.charCodeAt(i) === 0x7d) { i++; return obj; }
    for (;;) {
      ws();
      if (text.charCodeAt(i) !== 0x22) expected('a key');
      const kpos = i;
      const key = str();
      if (Object.hasOwn(obj, key)) parseError(kpos, `duplicate key ${JSON.stringify(key)}`);
      ws();
      if (text.charCodeAt(i) !== 0x3a) expected("':'");
      i++;
      obj[key] = value();
      ws();
      const d = text.charCodeAt(i);
      if (d === 0x7d) { i++; return obj; }
      if (d !== 0x2c) expected("',' or '}'");
      i++;
    }
  };

  const array = () => {
    const arr = [];
    if (text.charCodeAt(i) === 0x5d) { i++; return arr; }
    for (;;) {
      arr.push(value());
      ws();
      const d = text.charCodeAt(i);
      if (d === 0x5d) { i++; return arr; }
      if (d !== 0x2c) expected("',' or ']'");
      i++;
    }
  };

  const value = () => {
    ws();
    if (i >= n) parseError(i, `unexpected end of ${label}`);
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) { // { [
      if (++depth > MAX_DEPTH) fail('E_LIMIT', `${label}: nesting deeper than ${MAX_DEPTH} at offset ${i}`);
      i++;
      ws();
      const v = c === 0x7b ? object() : array();
      depth--;
      return v;
    }
    if (c === 0x22) return str();
    if (c === 0x74) return literal('true', true);
    if (c === 0x66) return literal('false', false);
    if (c === 0x6e) return literal('null', null);
    if (c !== 0x2d && !(c >= 0x30 && c <= 0x39)) parseError(i, 'unexpected character');
    NUM_RE.lastIndex = i;
    const m = NUM_RE.exec(text);
    if (m === null) parseError(i, 'bad number');
    i += m[0].length;
    return Number(m[0]);
  };
  const literal = (word, v) => {
    if (!text.startsWith(word, i)) parseError(i, 'unexpected token');
    i += word.length;
    return v;
  };

  const v = value();
  ws();
  if (i < n) parseError(i, 'trailing characters after the JSON value');
  return v;
}

/** Offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
function firstInvalidUTF8(b) {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let need, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c === 0xe0) { need = 2; lo = 0xa0; }
    else if (c === 0xed) { need = 2; hi = 0x9f; }
    else if (c >= 0xe1 && c <= 0xef) need = 2;
    else if (c === 0xf0) { need = 3; lo = 0x90; }
    else if (c === 0xf4) { need = 3; hi = 0x8f; }
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || d < lo || d > hi) return i;
      lo = 0x80; hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}

let decoder = null;

/** Parse a JSON text given as UTF-8 bytes (Uint8Array). */
export function parseJSONBytes(bytes, label = 'document') {
  if (bytes.length > MAX_FILE_BYTES) tooLarge(label);
  decoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let text;
  try {
    text = decoder.decode(bytes);
  } catch {
    // Read the valid prefix first: a violation before the bad byte decides.
    const bad = firstInvalidUTF8(bytes);
    const prefix = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(0, Math.max(bad, 0)));
    parseJSONText(prefix, label);
    parseError(bad, 'invalid UTF-8');
  }
  return parseJSONText(text, label);
}

/** Size check for a JS string source (its UTF-8 length). */
export function checkTextSize(text, label = 'document') {
  if (text.length * 3 > MAX_FILE_BYTES && (text.length > MAX_FILE_BYTES || new TextEncoder().encode(text).length > MAX_FILE_BYTES)) {
    tooLarge(label);
  }
}
