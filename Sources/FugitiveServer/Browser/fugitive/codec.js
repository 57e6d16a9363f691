// The bytes of the browser peer (part of /fugitive.js): MessagePack, digests (hex text,
// SHA-256, Repr-Digest headers) and raw-deflate inflation. It imports nothing.

/** A number to be written as a float64 even when it is whole. */
export class Float64 {
  /** @param {number} value */
  constructor(value) { this.value = value; }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a value as MessagePack, always in the smallest form: null, booleans, integers
 * (Number or BigInt), Float64, strings, Uint8Array (bin), arrays, and plain objects or
 * Maps with string keys (undefined values are left out).
 * @param {*} value
 * @returns {Uint8Array}
 */
export function pack(value) {
  let buffer = new Uint8Array(256), view = new DataView(buffer.buffer), length = 0;
  const room = (n) => {
    if (length + n <= buffer.length) return;
    const grown = new Uint8Array(Math.max(buffer.length * 2, length + n));
    grown.set(buffer);
    buffer = grown;
    view = new DataView(buffer.buffer);
  };
  const byte = (b) => { room(1); buffer[length++] = b; };
  const bytes = (array) => { room(array.length); buffer.set(array, length); length += array.length; };
  const u16 = (v) => { room(2); view.setUint16(length, v); length += 2; };
  const u32 = (v) => { room(4); view.setUint32(length, v); length += 4; };
  const u64 = (v) => { room(8); view.setBigUint64(length, BigInt(v)); length += 8; };
  const i64 = (v) => { room(8); view.setBigInt64(length, BigInt(v)); length += 8; };
  const int = (v) => {
    if (v >= 0) {
      if (v < 0x80) byte(v);
      else if (v <= 0xff) { byte(0xcc); byte(Number(v)); }
      else if (v <= 0xffff) { byte(0xcd); u16(Number(v)); }
      else if (v <= 0xffffffff) { byte(0xce); u32(Number(v)); }
      else { byte(0xcf); u64(v); }
    } else {
      if (v >= -32) byte(0x100 + Number(v));
      else if (v >= -0x80) { byte(0xd0); byte(0x100 + Number(v)); }
      else if (v >= -0x8000) { byte(0xd1); u16(0x10000 + Number(v)); }
      else if (v >= -0x80000000) { byte(0xd2); u32(0x100000000 + Number(v)); }
      else { byte(0xd3); i64(v); }
    }
  };
  const header = (n, fix, fixMax, c16, c32) => {
    if (fix !== null && n <= fixMax) byte(fix | n);
    else if (n <= 0xffff) { byte(c16); u16(n); }
    else { byte(c32); u32(n); }
  };
  const write = (v) => {
    if (v === null || v === undefined) byte(0xc0);
    else if (v === false) byte(0xc2);
    else if (v === true) byte(0xc3);
    else if (typeof v === "bigint") int(v);
    else if (typeof v === "number") {
      if (Number.isInteger(v) && Number.isSafeInteger(v)) int(v);
      else { byte(0xcb); room(8); view.setFloat64(length, v); length += 8; }
    } else if (v instanceof Float64) { byte(0xcb); room(8); view.setFloat64(length, v.value); length += 8; }
    else if (typeof v === "string") {
      const encoded = utf8.encode(v);
      if (encoded.length <= 31) byte(0xa0 | encoded.length);
      else if (encoded.length <= 0xff) { byte(0xd9); byte(encoded.length); }
      else header(encoded.length, null, 0, 0xda, 0xdb);
      bytes(encoded);
    } else if (v instanceof Uint8Array) {
      if (v.length <= 0xff) { byte(0xc4); byte(v.length); }
      else if (v.length <= 0xffff) { byte(0xc5); u16(v.length); }
      else { byte(0xc6); u32(v.length); }
      bytes(v);
    } else if (Array.isArray(v)) {
      header(v.length, 0x90, 15, 0xdc, 0xdd);
      v.forEach(write);
    } else {
      const entries = (v instanceof Map ? [...v.entries()] : Object.entries(v)).filter(([, x]) => x !== undefined);
      header(entries.length, 0x80, 15, 0xde, 0xdf);
      for (const [k, x] of entries) { write(k); write(x); }
    }
  };
  write(value);
  return buffer.slice(0, length);
}

/** Why bytes are not acceptable MessagePack. */
export class MessagePackError extends Error {}

/**
 * Decodes one MessagePack value, strictly: every length checked against the bytes
 * present, 0xc1 refused, strings valid UTF-8, nesting at most 16, no trailing bytes.
 * Integers beyond 2^53 come back as BigInt; maps as plain objects (string keys, no
 * duplicates); bin as Uint8Array; ext as {type, data}.
 * @param {Uint8Array} input
 * @returns {*}
 */
export function unpack(input) {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  let at = 0;
  const need = (n) => { if (at + n > input.length) throw new MessagePackError(`truncated at ${at}`); };
  const u8 = () => { need(1); return input[at++]; };
  const u16 = () => { need(2); const v = view.getUint16(at); at += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(at); at += 4; return v; };
  const big = (signed) => {
    need(8);
    const v = signed ? view.getBigInt64(at) : view.getBigUint64(at);
    at += 8;
    return (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) ? Number(v) : v;
  };
  const take = (n) => { need(n); const v = input.slice(at, at + n); at += n; return v; };
  const text = (n) => {
    try { return utf8Strict.decode(take(n)); } catch { throw new MessagePackError(`invalid UTF-8 at ${at}`); }
  };
  const read = (depth) => {
    if (depth > 16) throw new MessagePackError("nested too deeply");
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xe0) === 0xa0) return text(b & 0x1f);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f, depth);
    if ((b & 0xf0) === 0x80) return map(b & 0x0f, depth);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return take(u8());
      case 0xc5: return take(u16());
      case 0xc6: return take(u32());
      case 0xca: { need(4); const v = view.getFloat32(at); at += 4; return v; }
      case 0xcb: { need(8); const v = view.getFloat64(at); at += 8; return v; }
      case 0xcc: return u8();
      case 0xcd: return u16();
      case 0xce: return u32();
      case 0xcf: return big(false);
      case 0xd0: { const v = u8(); return v >= 0x80 ? v - 0x100 : v; }
      case 0xd1: { const v = u16(); return v >= 0x8000 ? v - 0x10000 : v; }
      case 0xd2: { need(4); const v = view.getInt32(at); at += 4; return v; }
      case 0xd3: return big(true);
      case 0xd9: return text(u8());
      case 0xda: return text(u16());
      case 0xdb: return text(u32());
      case 0xdc: return array(u16(), depth);
      case 0xdd: return array(u32(), depth);
      case 0xde: return map(u16(), depth);
      case 0xdf: return map(u32(), depth);
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: {
        const type = u8(); need(0); const n = [1, 2, 4, 8, 16][b - 0xd4];
        return { type: type >= 0x80 ? type - 0x100 : type, data: take(n) };
      }
      case 0xc7: case 0xc8: case 0xc9: {
        const n = b === 0xc7 ? u8() : b === 0xc8 ? u16() : u32();
        const type = u8();
        return { type: type >= 0x80 ? type - 0x100 : type, data: take(n) };
      }
      default: throw new MessagePackError(`byte 0x${b.toString(16)} at ${at - 1} is not MessagePack`);
    }
  };
  const array = (n, depth) => {
    need(n); // each element is at least one byte
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = read(depth + 1);
    return out;
  };
  const map = (n, depth) => {
    need(2 * n);
    const out = Object.create(null);
    for (let i = 0; i < n; i++) {
      const key = read(depth + 1);
      if (typeof key !== "string") throw new MessagePackError("a map key that is not a string");
      if (key in out) throw new MessagePackError(`duplicate key ${key}`);
      out[key] = read(depth + 1);
    }
    return out;
  };
  const value = read(0);
  if (at !== input.length) throw new MessagePackError(`${input.length - at} trailing bytes`);
  return value;
}

export const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
export const fromHex = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
/** `sha256:<hex>` of a digest's bytes. */
export const digestText = (bytes) => "sha256:" + hex(bytes);
/** The digest bytes of `sha256:<hex>` or `<hex>`. */
export const digestBytes = (text) => fromHex(text.replace(/^sha256:/, ""));
export const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** SHA-256 of `bytes` (crypto.subtle runs it off the main thread). */
export async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }

/** Raw-deflate inflation that stops beyond `limit` bytes (no decompression bombs). */
export async function inflate(bytes, limit) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  // Grows with what comes out (doubling, up to `limit`), not with what was announced:
  // a bomb fails at the output that passes the limit, having cost what it produced.
  let out = new Uint8Array(Math.min(limit, 1 << 20));
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.length > limit) { reader.cancel(); throw new Error(`inflates beyond ${limit} bytes`); }
    if (length + value.length > out.length) {
      const grown = new Uint8Array(Math.min(limit, Math.max(length + value.length, out.length * 2)));
      grown.set(out.subarray(0, length));
      out = grown;
    }
    out.set(value, length);
    length += value.length;
  }
  if (length !== limit) throw new Error(`inflated to ${length} bytes, ${limit} announced`);
  return out;
}

/** Raw deflate of `bytes`. */
export async function deflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The native peer's list (TransferCompression.isCompressible): text and structured text,
// never images, audio, video or archives, which are compressed already.
const COMPRESSIBLE = new Set([
  "application/json", "application/javascript", "application/xml", "application/wasm", "application/x-javascript",
  "application/manifest+json", "application/ld+json", "application/xhtml+xml", "image/svg+xml", "image/bmp",
  "application/vnd.apple.mpegurl", "application/x-mpegurl", "application/dash+xml", "font/ttf", "font/otf",
]);

/** Whether resources of `type` are worth trying to deflate. */
export function compressible(type) {
  if (!type) return false;
  const essence = type.split(";")[0].replace(/\s/g, "").toLowerCase();
  return essence.startsWith("text/") || COMPRESSIBLE.has(essence) || essence.endsWith("+json") || essence.endsWith("+xml");
}

/** `sha-256=:base64:` of a Repr-Digest header, as digest bytes. */
export function reprDigest(header) {
  const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/i.exec(header || "");
  if (!match) return null;
  try {
    const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    return bytes.length === 32 ? bytes : null;
  } catch { return null; }
}
