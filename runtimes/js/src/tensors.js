// Tensor bytes: base64 (RFC 4648), CRC-32 (ISO-HDLC), little-endian float32.
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INV = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INV[B64.charCodeAt(i)] = i;

/** RFC 4648 base64 with required padding; null when malformed. */
export function decodeBase64(s) {
  if (!B64_RE.test(s) || s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const n = (s.length / 4) * 3 - pad;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const a = B64_INV[s.charCodeAt(i)], b = B64_INV[s.charCodeAt(i + 1)];
    const c = s.charCodeAt(i + 2) === 61 ? 0 : B64_INV[s.charCodeAt(i + 2)];
    const d = s.charCodeAt(i + 3) === 61 ? 0 : B64_INV[s.charCodeAt(i + 3)];
    if (a < 0 || b < 0 || c < 0 || d < 0) return null; // '=' in the middle
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    if (o < n) out[o++] = (v >>> 8) & 255;
    if (o < n) out[o++] = v & 255;
  }
  // '=' may only stand at the end; a lone "x===" style is excluded by the regex.
  if (pad === 2 && s.charCodeAt(s.length - 3) === 61) return null;
  return out;
}

let CRC_TABLE = null;
export function crc32(bytes) {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
export const crc32Hex = (bytes) => crc32(bytes).toString(16).padStart(8, '0');

export const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Little-endian bytes of a Float32Array. */
export function f32Bytes(data) {
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE) return b;
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i += 4) { out[i] = b[i + 3]; out[i + 1] = b[i + 2]; out[i + 2] = b[i + 1]; out[i + 3] = b[i]; }
  return out;
}


/** Float32Array from little-endian bytes. */
export function f32FromLE(bytes) {
  const n = bytes.length >>> 2;
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (LITTLE) new Uint8Array(out.buffer).set(bytes.subarray(0, 4 * n));
  else for (let k = 0; k < n; k++) out[k] = dv.getFloat32(4 * k, true);
  return out;
}
