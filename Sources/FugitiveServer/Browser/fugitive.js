// Fugitive browser peer: an ES module with no build step, served by the orchestrator at
// /fugitive.js. It joins a swarm over the server's WebSocket, keeps RTCPeerConnection data
// channels to a few peers, and answers fetch(url) from memory, then IndexedDB, then its
// peers (bytes verified by SHA-256), then the origin — and serves what it holds to others.
// The wire protocol is docs/PROTOCOL.md: MessagePack [version, type, body] frames.

// ---------------------------------------------------------------- MessagePack

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

// ---------------------------------------------------------------- wire protocol

/** Server-link message types (docs/PROTOCOL.md). */
export const ServerType = Object.freeze({
  hello: 1, welcome: 2, want: 3, pair: 4, unpair: 5, signal: 6, link: 7, peerLeft: 8, have: 9, drop: 10,
  whoHas: 11, holders: 12, vouch: 13, vouched: 14, ping: 15, pong: 16, error: 17, report: 18,
});
/** Peer-link message types. */
export const PeerType = Object.freeze({ request: 1, head: 2, chunk: 3, miss: 4, busy: 5, cancel: 6, ping: 7, pong: 8, error: 9 });

/** @param {number} type @param {object} body */
export function frame(type, body) { return pack([1, type, body]); }

/** @param {Uint8Array} bytes @returns {{type: number, body: object}} */
export function parseFrame(bytes) {
  const value = unpack(bytes);
  if (!Array.isArray(value) || value.length !== 3 || typeof value[1] !== "number" || typeof value[2] !== "object" || value[2] === null
      || Array.isArray(value[2]) || value[2] instanceof Uint8Array) {
    throw new MessagePackError("not a [version, type, body] envelope");
  }
  if (value[0] !== 1) throw new MessagePackError(`unsupported version ${value[0]}`);
  return { type: value[1], body: value[2] };
}

/** The largest data-channel message, and the payload of a full chunk inside it. */
export const MAX_MESSAGE = 16384;
const CHUNK_PAYLOAD = MAX_MESSAGE - 23;

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
/** `sha256:<hex>` of a digest's bytes. */
export const digestText = (bytes) => "sha256:" + hex(bytes);
/** The digest bytes of `sha256:<hex>` or `<hex>`. */
export const digestBytes = (text) => fromHex(text.replace(/^sha256:/, ""));
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** SHA-256 of `bytes` (crypto.subtle runs it off the main thread). */
export async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }

/** Raw-deflate inflation that stops beyond `limit` bytes (no decompression bombs). */
async function inflate(bytes, limit) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const out = new Uint8Array(limit);
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.length > limit) { reader.cancel(); throw new Error(`inflates beyond ${limit} bytes`); }
    out.set(value, length);
    length += value.length;
  }
  if (length !== limit) throw new Error(`inflated to ${length} bytes, ${limit} announced`);
  return out;
}

/** `sha-256=:base64:` of a Repr-Digest header, as digest bytes. */
function reprDigest(header) {
  const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/i.exec(header || "");
  if (!match) return null;
  try {
    const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    return bytes.length === 32 ? bytes : null;
  } catch { return null; }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

function abortError(signal) { return signal?.reason ?? new DOMException("The fetch was aborted", "AbortError"); }

// ---------------------------------------------------------------- store

/** A memory LRU bounded in bytes in front of IndexedDB (when the page has it). */
class Store {
  constructor(memoryBytes, databaseName) {
    this.memoryBytes = memoryBytes;
    this.used = 0;
    /** @type {Map<string, {bytes: Uint8Array, type: string|null}>} hex digest → entry, oldest first */
    this.memory = new Map();
    /** @type {Map<string, {digest: string, type: string|null}>} url → hex digest */
    this.urls = new Map();
    this.database = databaseName && typeof indexedDB !== "undefined" ? this.open(databaseName) : Promise.resolve(null);
  }

  open(name) {
    return new Promise((resolve) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("blobs");
        request.result.createObjectStore("urls");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    });
  }

  async transaction(stores, mode, work) {
    const db = await this.database;
    if (!db) return undefined;
    return new Promise((resolve) => {
      const tx = db.transaction(stores, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = tx.onabort = () => resolve(undefined);
      work(tx, (value) => { result = value; });
    });
  }

  remember(key, entry) {
    if (this.memory.has(key)) { this.used -= this.memory.get(key).bytes.length; this.memory.delete(key); }
    if (entry.bytes.length > this.memoryBytes) return;
    this.memory.set(key, entry);
    this.used += entry.bytes.length;
    for (const [oldest, value] of this.memory) {
      if (this.used <= this.memoryBytes) break;
      this.memory.delete(oldest);
      this.used -= value.bytes.length;
    }
  }

  /** Bytes for a digest: memory, else IndexedDB (re-hashed: the disk is not trusted either). */
  async get(digest) {
    const key = hex(digest);
    const hit = this.memory.get(key);
    if (hit) {
      this.memory.delete(key);
      this.memory.set(key, hit);
      return { ...hit, tier: "memory" };
    }
    const stored = await this.transaction(["blobs"], "readonly", (tx, done) => {
      const request = tx.objectStore("blobs").get(key);
      request.onsuccess = () => done(request.result);
    });
    if (!stored || !sameBytes(await sha256(stored.bytes), digest)) return null;
    this.remember(key, stored);
    return { ...stored, tier: "disk" };
  }

  async lookup(url) {
    const known = this.urls.get(url);
    if (known) return known;
    return await this.transaction(["urls"], "readonly", (tx, done) => {
      const request = tx.objectStore("urls").get(url);
      request.onsuccess = () => done(request.result);
    }) ?? null;
  }

  async put(digest, bytes, type, url) {
    const key = hex(digest);
    const entry = { bytes, type };
    this.remember(key, entry);
    if (url) this.urls.set(url, { digest: key, type });
    await this.transaction(["blobs", "urls"], "readwrite", (tx) => {
      tx.objectStore("blobs").put(entry, key);
      if (url) tx.objectStore("urls").put({ digest: key, type }, url);
    });
  }

  /** Every URL known, for re-announcement. */
  holdings() {
    return [...this.urls].map(([url, { digest }]) => ({ d: fromHex(digest), u: url, n: this.memory.get(digest)?.bytes.length ?? 0 }));
  }
}

// ---------------------------------------------------------------- peer link

/** Why a peer could not deliver; the fetch then tries elsewhere. */
class PeerError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;

/** The peer protocol on one data channel, both ways. */
class Link {
  constructor(peer, channel, owner) {
    this.peer = peer;
    this.channel = channel;
    this.owner = owner;
    this.nextId = 1;
    /** @type {Map<number, object>} this side's requests */
    this.downloads = new Map();
    /** @type {Map<number, {cancelled: boolean}>} the other side's requests */
    this.uploads = new Map();
    this.pings = new Map();
    this.rtt = null;
    this.failures = 0;
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onmessage = (event) => this.receive(new Uint8Array(event.data));
  }

  send(type, body) {
    if (this.channel.readyState === "open") this.channel.send(frame(type, body));
  }

  async drain() {
    while (this.channel.readyState === "open" && this.channel.bufferedAmount > HIGH_WATER) {
      await new Promise((resolve) => {
        const done = () => { this.channel.removeEventListener("bufferedamountlow", done); this.channel.removeEventListener("close", done); resolve(); };
        this.channel.addEventListener("bufferedamountlow", done);
        this.channel.addEventListener("close", done);
      });
    }
    if (this.channel.readyState !== "open") throw new PeerError("closed", "the link closed");
  }

  receive(bytes) {
    let message;
    try { message = parseFrame(bytes); } catch (error) { this.owner.log("undecodable peer message; closing", error); this.close(); return; }
    const { type, body } = message;
    switch (type) {
      case PeerType.request: this.owner.serve(this, body); break;
      case PeerType.cancel: { const upload = this.uploads.get(body.q); if (upload) upload.cancelled = true; break; }
      case PeerType.error: {
        // An error naming one of this side's uploads ends it, like cancel (PROTOCOL.md).
        const upload = body.q === undefined ? undefined : this.uploads.get(body.q);
        if (upload) upload.cancelled = true; else if (body.q !== undefined) this.downloads.get(body.q)?.handle(type, body);
        break;
      }
      case PeerType.ping: this.send(PeerType.pong, { n: body.n }); break;
      case PeerType.pong: this.pings.get(body.n)?.(); break;
      default: this.downloads.get(body.q)?.handle(type, body);
    }
  }

  /** Round trip of a ping, in ms (null after `timeout`). */
  async ping(timeout = 2000) {
    const nonce = this.nextId++;
    const started = performance.now();
    const answered = await new Promise((resolve) => {
      this.pings.set(nonce, () => resolve(true));
      setTimeout(() => resolve(false), timeout);
      this.send(PeerType.ping, { n: nonce });
    });
    this.pings.delete(nonce);
    if (answered) this.rtt = performance.now() - started;
    return answered ? this.rtt : null;
  }

  /**
   * Downloads `digest`: resolves with {bytes, type} once verified. `claim(head)` decides
   * whether this transfer goes on (false: another peer answered first).
   */
  download(digest, url, { signal, claim = () => true, stallMs = 5000 } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let head = null, buffer = null, received = 0, chunks = 0, timer = null;
      const finish = (error, value) => {
        clearTimeout(timer);
        this.downloads.delete(id);
        signal?.removeEventListener("abort", onAbort);
        if (error) {
          if (error.code !== "miss" && error.code !== "busy") this.send(PeerType.cancel, { q: id });
          reject(error);
        } else resolve(value);
      };
      const watch = () => { clearTimeout(timer); timer = setTimeout(() => finish(new PeerError("stalled", `nothing for ${stallMs} ms`)), stallMs); };
      const onAbort = () => finish(new PeerError("cancelled", "aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.downloads.set(id, {
        handle: async (type, body) => {
          watch();
          if (type === PeerType.miss) return finish(new PeerError("miss", "the peer does not hold it"));
          if (type === PeerType.busy) return finish(new PeerError("busy", "the peer is busy"));
          if (type === PeerType.error) return finish(new PeerError("protocol", `the peer answered ${body.c}: ${body.m}`));
          if (type === PeerType.head) {
            if (head || typeof body.t !== "number" || typeof body.n !== "number" || body.t > this.owner.maxResourceSize
                || body.n > this.owner.maxResourceSize || (body.t > 0 && !(body.c > 0 && body.c <= MAX_MESSAGE)) || (body.e === 0 && body.t !== body.n)) {
              return finish(new PeerError("protocol", "an unacceptable head"));
            }
            if (!claim(body)) return finish(new PeerError("lostRace", "another peer answered first"));
            head = body;
            buffer = new Uint8Array(body.t);
            chunks = body.t === 0 ? 0 : Math.ceil(body.t / body.c);
            if (chunks === 0) return complete();
            return;
          }
          if (type === PeerType.chunk && head) {
            const offset = body.i * head.c, data = body.b;
            const expected = Math.min(head.c, head.t - offset);
            if (!(data instanceof Uint8Array) || body.i >= chunks || data.length !== expected) return finish(new PeerError("protocol", "a chunk out of range"));
            buffer.set(data, offset);
            received++;
            if (received === chunks) return complete();
          }
        },
      });
      const complete = async () => {
        clearTimeout(timer);
        try {
          const bytes = head.e === 1 ? await inflate(buffer, head.n) : buffer;
          if (!sameBytes(await sha256(bytes), digest)) return finish(new PeerError("corrupted", "the bytes do not hash to the digest"));
          finish(null, { bytes, type: head.y ?? null, transferred: head.t });
        } catch (error) {
          finish(new PeerError("protocol", `inflation failed: ${error.message}`));
        }
      };
      watch();
      this.send(PeerType.request, { q: id, d: digest, u: url, z: typeof DecompressionStream !== "undefined" });
    });
  }

  /** Serves one request from the store, in ≤ 16 KiB chunks, with back-pressure. */
  async upload(body, entry) {
    const upload = { cancelled: false };
    this.uploads.set(body.q, upload);
    try {
      const bytes = entry.bytes;
      this.send(PeerType.head, { q: body.q, t: bytes.length, n: bytes.length, e: 0, c: bytes.length ? CHUNK_PAYLOAD : 0, y: entry.type ?? undefined });
      for (let i = 0, offset = 0; offset < bytes.length; i++, offset += CHUNK_PAYLOAD) {
        if (upload.cancelled) return false;
        await this.drain();
        let data = bytes.subarray(offset, Math.min(bytes.length, offset + CHUNK_PAYLOAD));
        if (this.owner.corruptsUploadsForTesting) { data = data.slice(); data[0] ^= 0xff; }
        this.send(PeerType.chunk, { q: body.q, i, b: data });
      }
      return true;
    } catch {
      return false;
    } finally {
      this.uploads.delete(body.q);
    }
  }

  close() {
    try { this.channel.close(); } catch {}
  }
}

// ---------------------------------------------------------------- the peer

/**
 * @typedef {object} FugitiveOptions
 * @property {string} [swarm] the swarm to join (default: this page's origin)
 * @property {number} [targetLinks] links to keep (4)
 * @property {number} [maxLinks] most links to accept (8)
 * @property {number} [memoryBytes] memory LRU bound (64 MiB)
 * @property {string|null} [database] IndexedDB name for the persistent store ("fugitive"; null: memory only)
 * @property {number} [peerPhaseMs] how long peers are asked before the origin (3000)
 * @property {number} [uploadSlots] concurrent uploads in total (8), and per peer (2)
 * @property {number} [uploadSlotsPerPeer]
 * @property {string} [joinToken] a join token (JWT) from the site's backend, for swarms that admit by token
 * @property {boolean} [corruptsUploadsForTesting] make this peer a liar (tests only)
 */

/** A browser peer in a Fugitive swarm. Create with {@link Fugitive.connect}. */
export class Fugitive extends EventTarget {
  /**
   * Joins the swarm through the orchestrator at `serverURL` (`ws(s)://…/v1/signal`).
   * Resolves once the server has welcomed this peer.
   * @param {string} serverURL
   * @param {FugitiveOptions} [options]
   * @returns {Promise<Fugitive>}
   */
  static async connect(serverURL, options = {}) {
    const peer = new Fugitive(serverURL, options);
    await peer.joined;
    return peer;
  }

  constructor(serverURL, options) {
    super();
    this.serverURL = serverURL;
    this.swarm = options.swarm ?? location.origin;
    this.targetLinks = options.targetLinks ?? 4;
    this.maxLinks = options.maxLinks ?? 8;
    /** A join token from the site's backend, for swarms the orchestrator admits by token. */
    this.joinToken = options.joinToken ?? null;
    this.peerPhaseMs = options.peerPhaseMs ?? 3000;
    this.maxResourceSize = options.maxResourceSize ?? 256 << 20;
    this.uploadSlots = options.uploadSlots ?? 8;
    this.uploadSlotsPerPeer = options.uploadSlotsPerPeer ?? 2;
    this.corruptsUploadsForTesting = !!options.corruptsUploadsForTesting;
    this.store = new Store(options.memoryBytes ?? 64 << 20, options.database === undefined ? "fugitive" : options.database);
    /** @type {Map<string, {pc: RTCPeerConnection, link: Link|null, offerer: boolean}>} */
    this.partners = new Map();
    this.liars = new Set();
    this.requests = new Map();
    this.nextRequest = 1;
    this.uploading = 0;
    this.stats = { fromOrigin: 0, fromPeers: 0, fromStore: 0, served: 0, liarsCaught: 0 };
    this.id = null;
    this.closed = false;
    this.joined = new Promise((resolve) => { this.onJoined = resolve; });
    this.run();
    this.timer = setInterval(() => this.maintain(), 1000);
  }

  log(...args) { if (globalThis.FUGITIVE_DEBUG) console.log("fugitive:", ...args.map(String)); }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  // ---- server link: reconnection with jittered back-off, heartbeats, re-announcement

  async run() {
    let backoff = 500, token = null;
    while (!this.closed) {
      const welcomed = await new Promise((resolve) => {
        let welcomed = false, heartbeat = null;
        const socket = new WebSocket(this.serverURL);
        socket.binaryType = "arraybuffer";
        this.socket = socket;
        socket.onopen = () => socket.send(frame(ServerType.hello, { s: this.swarm, t: this.targetLinks, m: this.maxLinks, r: token ?? undefined, a: "fugitive-js", j: this.joinToken ?? undefined }));
        socket.onmessage = (event) => {
          let message;
          try { message = parseFrame(new Uint8Array(event.data)); } catch (error) { this.log("bad server frame", error); socket.close(); return; }
          if (message.type === ServerType.welcome) {
            welcomed = true;
            token = message.body.r;
            if (!message.body.z) for (const id of [...this.partners.keys()]) this.unlink(id, null);
            this.id = message.body.p;
            this.iceServers = (message.body.i ?? []).map((s) => ({ urls: s.u, username: s.n, credential: s.c }));
            heartbeat = setInterval(() => this.sendServer(ServerType.ping, { n: Date.now() }), Math.max(1000, (message.body.h ?? 15000) / 2));
            const holdings = this.store.holdings();
            for (let i = 0; i < holdings.length; i += 256) this.sendServer(ServerType.have, { h: holdings.slice(i, i + 256) });
            this.lastWant = 0;
            this.onJoined();
            this.emit("joined", { id: this.id });
            this.maintain();
          } else {
            this.onServer(message.type, message.body);
          }
        };
        socket.onclose = () => { clearInterval(heartbeat); this.socket = null; resolve(welcomed); };
      });
      if (this.closed) break;
      this.emit("left-server", {});
      for (const waiting of this.requests.values()) waiting(null);
      backoff = welcomed ? 500 : Math.min(backoff * 2, 30000);
      await sleep(backoff / 2 + Math.random() * backoff / 2);
    }
  }

  sendServer(type, body) {
    if (this.socket?.readyState === WebSocket.OPEN) { this.socket.send(frame(type, body)); return true; }
    return false;
  }

  /** Sends a request the server answers (who-has, vouch); null on timeout or failure. */
  ask(type, body, timeout = 2000) {
    const q = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.requests.delete(q); resolve(null); }, timeout);
      this.requests.set(q, (answer) => { clearTimeout(timer); this.requests.delete(q); resolve(answer); });
      if (!this.sendServer(type, { ...body, q })) this.requests.get(q)(null);
    });
  }

  onServer(type, body) {
    switch (type) {
      case ServerType.pair: this.pair(body.p, body.o); break;
      case ServerType.signal: this.signal(body); break;
      case ServerType.unpair: case ServerType.peerLeft: this.unlink(body.p, null); break;
      case ServerType.holders: case ServerType.vouched: this.requests.get(body.q)?.(body); break;
      case ServerType.error: if (body.q !== undefined) this.requests.get(body.q)?.(null); else this.log("server error", body.c, body.m); break;
    }
  }

  // ---- links

  maintain() {
    if (this.closed || !this.id) return;
    // Round trips, measured and reported every few seconds.
    if (Date.now() - (this.lastPings ?? 0) > 5000) {
      this.lastPings = Date.now();
      for (const link of this.links()) {
        link.ping().then((rtt) => { if (rtt !== null) this.sendServer(ServerType.link, { p: link.peer, s: 1, r: new Float64(rtt) }); });
      }
    }
    const missing = this.targetLinks - this.partners.size;
    if (missing > 0 && Date.now() - (this.lastWant ?? 0) > 2000) {
      this.lastWant = Date.now();
      this.sendServer(ServerType.want, { n: missing });
    }
    const { fromOrigin, fromPeers, served } = this.stats;
    const report = `${fromOrigin}/${fromPeers}/${served}/${this.id}`;
    if (report !== this.lastReport && this.sendServer(ServerType.report, { o: fromOrigin, p: fromPeers, s: served })) this.lastReport = report;
  }

  pair(peer, offerer) {
    this.log("pair", peer, offerer ? "offering" : "answering");
    if (this.partners.has(peer) || this.partners.size >= this.maxLinks || this.liars.has(peer)) {
      this.sendServer(ServerType.link, { p: peer, s: 3 });
      return;
    }
    const pc = new RTCPeerConnection({ iceServers: this.iceServers ?? [] });
    const partner = { pc, link: null, offerer };
    this.partners.set(peer, partner);
    pc.onicecandidate = (event) => {
      if (event.candidate && event.candidate.candidate) this.sendServer(ServerType.signal, { p: peer, k: 3, c: event.candidate.candidate, m: event.candidate.sdpMid ?? "0" });
      else if (!event.candidate) this.sendServer(ServerType.signal, { p: peer, k: 4, m: "0" });
    };
    pc.onconnectionstatechange = () => {
      this.log("connection", peer, pc.connectionState);
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.unlink(peer, 2);
    };
    const open = (channel) => {
      channel.onopen = async () => {
        const link = new Link(peer, channel, this);
        partner.link = link;
        const rtt = await link.ping();
        this.sendServer(ServerType.link, { p: peer, s: 1, r: rtt === null ? undefined : new Float64(rtt) });
        this.emit("linked", { peer, rtt });
      };
      channel.onclose = () => this.unlink(peer, 2);
    };
    if (offerer) {
      open(pc.createDataChannel("fugitive"));
      pc.createOffer().then((offer) => pc.setLocalDescription(offer)).then(() => {
        this.sendServer(ServerType.signal, { p: peer, k: 1, s: pc.localDescription.sdp });
      }).catch(() => this.unlink(peer, 3));
    } else {
      pc.ondatachannel = (event) => open(event.channel);
    }
    setTimeout(() => { if (this.partners.get(peer) === partner && !partner.link) this.unlink(peer, 3); }, 15000);
  }

  signal(body) {
    const partner = this.partners.get(body.p);
    if (!partner) return;
    // In arrival order: a candidate must not overtake the offer it belongs to.
    partner.signals = (partner.signals ?? Promise.resolve()).then(() => this.applySignal(partner, body));
  }

  async applySignal(partner, body) {
    const pc = partner.pc;
    try {
      if (body.k === 1 && !partner.offerer) {
        await pc.setRemoteDescription({ type: "offer", sdp: body.s });
        await pc.setLocalDescription(await pc.createAnswer());
        this.sendServer(ServerType.signal, { p: body.p, k: 2, s: pc.localDescription.sdp });
      } else if (body.k === 2 && partner.offerer) {
        await pc.setRemoteDescription({ type: "answer", sdp: body.s });
      } else if (body.k === 3 && !pc.remoteDescription) {
        // Early (some peers trickle before their description arrives): kept for later.
        (partner.early ??= []).push(body);
        return;
      } else if (body.k === 3) {
        await pc.addIceCandidate({ candidate: body.c, sdpMid: body.m ?? "0" });
      }
      if (pc.remoteDescription && partner.early) {
        const early = partner.early;
        partner.early = null;
        for (const candidate of early) await pc.addIceCandidate({ candidate: candidate.c, sdpMid: candidate.m ?? "0" });
      }
    } catch (error) {
      this.log("bad signal", error);
      this.unlink(body.p, 3);
    }
  }

  /** Ends the link to `peer`, telling the server `state` (2 disconnected, 3 failed) when given. */
  unlink(peer, state) {
    const partner = this.partners.get(peer);
    if (!partner) return;
    this.log("unlink", peer, state);
    this.partners.delete(peer);
    try { partner.pc.close(); } catch {}
    if (state) this.sendServer(ServerType.link, { p: peer, s: state });
    this.emit("unlinked", { peer });
    this.maintain();
  }

  /** Open links, fastest first. */
  links() {
    return [...this.partners.values()].map((p) => p.link).filter((l) => l && l.channel.readyState === "open")
      .sort((a, b) => (a.rtt ?? 1e9) - (b.rtt ?? 1e9));
  }

  // ---- uploads

  async serve(link, body) {
    const digest = body.d;
    const entry = digest instanceof Uint8Array && digest.length === 32 ? await this.store.get(digest) : null;
    if (!entry) return link.send(PeerType.miss, { q: body.q });
    const perPeer = [...link.uploads.keys()].length;
    if (this.uploading >= this.uploadSlots || perPeer >= this.uploadSlotsPerPeer) return link.send(PeerType.busy, { q: body.q, r: 500 });
    this.uploading++;
    try {
      if (await link.upload(body, entry)) {
        this.stats.served += entry.bytes.length;
        this.emit("served", { peer: link.peer, bytes: entry.bytes.length });
      }
    } finally {
      this.uploading--;
    }
  }

  // ---- the fetch path

  /**
   * The resource at `url`: memory → IndexedDB → peers (only against a trusted SHA-256:
   * the caller's, the origin's `Repr-Digest`, or the server's vouch) → the origin.
   * The `Response` carries `X-Fugitive-Source` (memory, disk, peer <id>, origin) and
   * `X-Fugitive-Digest`. Aborting `signal` cancels every request under way.
   * @param {string} url
   * @param {{digest?: string, signal?: AbortSignal}} [options]
   * @returns {Promise<Response>}
   */
  async fetch(url, options = {}) {
    const signal = options.signal;
    const check = () => { if (signal?.aborted) throw abortError(signal); };
    const started = performance.now();
    const answer = (bytes, type, digest, source) => {
      if (source === "origin") this.stats.fromOrigin += bytes.length;
      else if (source.startsWith("peer")) this.stats.fromPeers += bytes.length;
      else this.stats.fromStore += bytes.length;
      this.emit("fetched", { url, source, bytes: bytes.length, ms: performance.now() - started });
      this.maintain();
      return new Response(bytes, { headers: {
        "Content-Type": type ?? "application/octet-stream", "X-Fugitive-Source": source, "X-Fugitive-Digest": digestText(digest),
      } });
    };
    check();
    let trusted = options.digest ? digestBytes(options.digest) : null;
    const known = await this.store.lookup(url);
    if (!trusted && known) trusted = fromHex(known.digest);
    if (trusted) {
      const hit = await this.store.get(trusted);
      if (hit) return answer(hit.bytes, hit.type ?? known?.type, trusted, hit.tier);
    }
    check();
    let type = null;
    if (!trusted) {
      try {
        const head = await fetch(url, { method: "HEAD", signal });
        trusted = head.ok ? reprDigest(head.headers.get("Repr-Digest")) : null;
        type = head.headers.get("Content-Type");
      } catch (error) { check(); }
      if (!trusted) {
        const vouched = await this.ask(ServerType.vouch, { u: url });
        if (vouched?.d instanceof Uint8Array && vouched.u === url) trusted = vouched.d;
      }
    }
    check();
    if (trusted) {
      const found = await this.fromPeers(url, trusted, signal);
      check();
      if (found) {
        await this.keep(url, trusted, found.bytes, found.type ?? type);
        return answer(found.bytes, found.type ?? type, trusted, `peer ${found.peer}`);
      }
    }
    const response = await fetch(url, { signal });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const digest = await sha256(bytes);
    const expected = trusted ?? reprDigest(response.headers.get("Repr-Digest"));
    if (expected && !sameBytes(expected, digest)) throw new Error(`${url} from the origin does not hash to ${digestText(expected)}`);
    await this.keep(url, digest, bytes, response.headers.get("Content-Type"));
    return answer(bytes, response.headers.get("Content-Type"), digest, "origin");
  }

  async keep(url, digest, bytes, type) {
    await this.store.put(digest, bytes, type, url);
    this.sendServer(ServerType.have, { h: [{ d: digest, u: url, n: bytes.length }] });
  }

  /** Holders the server names among the links, else every link; the first head wins. */
  async fromPeers(url, digest, signal) {
    const deadline = performance.now() + this.peerPhaseMs;
    const key = hex(digest);
    const holders = ((await this.ask(ServerType.whoHas, { d: digest, n: 16 }))?.p ?? []).filter((p) => p !== this.id && !this.liars.has(`${p}/${key}`));
    const links = this.links().filter((l) => !this.liars.has(`${l.peer}/${key}`));
    const named = links.filter((l) => holders.includes(l.peer));
    let candidates = named.length ? named : links;
    const tried = new Set();
    while (candidates.length && performance.now() < deadline && !signal?.aborted) {
      let winner = null;
      const controller = new AbortController();
      const abort = () => controller.abort();
      signal?.addEventListener("abort", abort, { once: true });
      const lost = [];
      const attempts = candidates.map((link) => link.download(digest, url, {
        signal: controller.signal,
        claim: () => { if (winner) return false; winner = link; return true; },
      }).then((value) => ({ link, value }), (error) => {
        if (error.code === "lostRace") lost.push(link);
        else {
          tried.add(link.peer);
          if (error.code === "corrupted") {
            this.liars.add(`${link.peer}/${key}`);
            this.liars.add(link.peer);
            this.stats.liarsCaught++;
            this.emit("penalised", { peer: link.peer, reason: error.message });
            this.unlink(link.peer, 3);
          }
        }
        if (winner === link) winner = null;
        return null;
      }));
      const timer = setTimeout(() => { if (!winner) controller.abort(); }, Math.max(0, deadline - performance.now()));
      const results = await Promise.all(attempts);
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
      const success = results.find((r) => r);
      if (success) return { peer: success.link.peer, bytes: success.value.bytes, type: success.value.type };
      candidates = lost.filter((l) => !tried.has(l.peer));
    }
    return null;
  }

  /** Leaves the swarm: closes the links and the server connection. */
  close() {
    this.closed = true;
    clearInterval(this.timer);
    for (const peer of [...this.partners.keys()]) this.unlink(peer, null);
    this.socket?.close();
  }
}

/**
 * Gives every element under `root` with `data-fugitive-src` its `src` from the swarm
 * (as a blob URL), and marks where it came from in `data-fugitive-source`.
 * @param {Fugitive} peer
 * @param {ParentNode} [root]
 */
export async function attach(peer, root = document) {
  await Promise.all([...root.querySelectorAll("[data-fugitive-src]")].map(async (element) => {
    try {
      const response = await peer.fetch(new URL(element.dataset.fugitiveSrc, location.href).href);
      element.dataset.fugitiveSource = response.headers.get("X-Fugitive-Source");
      element.src = URL.createObjectURL(await response.blob());
    } catch (error) {
      element.dataset.fugitiveSource = "failed";
    }
  }));
}
