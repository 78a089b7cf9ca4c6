// Tensor bytes: base64 (RFC 4648), CRC-32 (ISO-HDLC), little-endian float32 and int32.
export const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INV = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INV[B64.charCodeAt(i)] = i;

/** RFC 4648 base64 with required padding; null when malformed. */
export function decodeBase64(s) {
  // past these two checks every quad is valid: '=' only ends the text
  if (!B64_RE.test(s) || s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const n = (s.length / 4) * 3 - pad;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const a = B64_INV[s.charCodeAt(i)], b = B64_INV[s.charCodeAt(i + 1)];
    const c = s.charCodeAt(i + 2) === 61 ? 0 : B64_INV[s.charCodeAt(i + 2)];
    const d = s.charCodeAt(i + 3) === 61 ? 0 : B64_INV[s.charCodeAt(i + 3)];
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    if (o < n) out[o++] = (v >>> 8) & 255;
    if (o < n) out[o++] = v & 255;
  }
  return out;
}

let CRC_TABLE = null;
/** CRC-32 as 8 lowercase hex digits. */
export function crc32Hex(bytes) {
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
  return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** A copy of whole 4-byte words with each word's bytes reversed. */
function swap32(b) {
  const out = new Uint8Array(b.length & ~3);
  for (let i = 0; i < out.length; i += 4) { out[i] = b[i + 3]; out[i + 1] = b[i + 2]; out[i + 2] = b[i + 1]; out[i + 3] = b[i]; }
  return out;
}

/** Little-endian bytes of a Float32Array or an Int32Array. */
export function leBytes(data) {
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return LITTLE ? b : swap32(b);
}

/** Float32Array (Int32Array when `int`) from little-endian bytes (a trailing partial word is ignored). */
export function fromLE(bytes, int) {
  return new (int ? Int32Array : Float32Array)((LITTLE ? new Uint8Array(bytes.subarray(0, bytes.length & ~3)) : swap32(bytes)).buffer);
}
