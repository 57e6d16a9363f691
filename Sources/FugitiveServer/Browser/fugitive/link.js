// One peer-to-peer link of the browser peer (part of /fugitive.js): the peer protocol on
// an RTCDataChannel, downloads verified by SHA-256 and uploads with back-pressure.

import { compressible, deflate, inflate, sameBytes, sha256 } from "./codec.js";
import { PeerType, frame, parseFrame, MAX_MESSAGE, CHUNK_PAYLOAD } from "./wire.js";

/**
 * Why a peer could not deliver; the fetch then tries elsewhere. `wire` is the error code
 * the peer is told (PROTOCOL.md) when it broke the protocol; without one it gets `cancel`.
 */
class PeerError extends Error {
  constructor(code, message, wire) { super(message); this.code = code; this.wire = wire; }
}

const HIGH_WATER = 1 << 20;
/** A download must average this many bytes per second once it had RATE_GRACE_MS (as natively). */
const MINIMUM_RATE = 32 << 10;
const RATE_GRACE_MS = 2000;
/** The smallest chunk size accepted for a transfer of more than one chunk (as natively). */
const MINIMUM_CHUNK = 1024;
const LOW_WATER = 256 << 10;
/** Refusals (3009, 3001, duplicates) a link may draw in REFUSAL_WINDOW ms before it is closed. */
const MAX_REFUSALS = 64;
const REFUSAL_WINDOW = 10000;
const KNOWN_TYPES = new Set(Object.values(PeerType));

/** The peer protocol on one data channel, both ways. */
export class Link {
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
    this.refusals = { start: 0, count: 0 };
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = LOW_WATER;
    // Text messages are not part of the protocol: ignored, as the native peer does.
    channel.onmessage = (event) => { if (typeof event.data !== "string") this.receive(new Uint8Array(event.data)); };
  }

  send(type, body) {
    if (this.channel.readyState === "open") this.channel.send(frame(type, body));
  }

  /** Tells the peer why, then closes the link (a 1xxx: the link cannot go on). */
  closeTelling(code, message) {
    this.send(PeerType.error, { c: code, m: message });
    this.close();
  }

  /** Refuses request `q` with `code`; a link that draws too many refusals is closed. */
  refuse(q, code, message) {
    this.send(PeerType.error, { c: code, m: message, q });
    const now = performance.now();
    if (now - this.refusals.start > REFUSAL_WINDOW) this.refusals = { start: now, count: 0 };
    if (++this.refusals.count > MAX_REFUSALS) this.closeTelling(3009, "too many refused requests");
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
    if (bytes.length > MAX_MESSAGE) return this.closeTelling(1002, `a ${bytes.length}-byte message, over ${MAX_MESSAGE}`);
    let message;
    try { message = parseFrame(bytes); } catch (error) {
      this.owner.log("undecodable peer message; closing", error);
      return this.closeTelling(/unsupported version/.test(error.message) ? 1004 : 1001, `undecodable: ${error.message}`);
    }
    const { type, body } = message;
    if (!KNOWN_TYPES.has(type)) return this.closeTelling(1003, `message type ${type}`);
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
      default: {
        const download = this.downloads.get(body.q);
        if (download) download.handle(type, body);
        // A response for a request never made is refused; one for a request that ended
        // (chunks still in flight after a cancel) is dropped.
        else if (!(Number.isInteger(body.q) && body.q > 0 && body.q < this.nextId)) this.refuse(body.q, 3001, `request ${body.q} was never made on this link`);
      }
    }
  }

  /**
   * Takes `channel` as the control channel: a ping there is answered there, a pong counts
   * as on the main channel, anything else is ignored. Once the other side has spoken on
   * it, this side's pings go there too (not behind a transfer's queued chunks).
   */
  attachControl(channel) {
    if (this.control) return channel.close();
    this.control = channel;
    this.controlConfirmed = false;
    channel.binaryType = "arraybuffer";
    channel.onmessage = (event) => {
      if (typeof event.data === "string") return;
      let message;
      try { message = parseFrame(new Uint8Array(event.data)); } catch { return; }
      this.controlConfirmed = true;
      if (message.type === PeerType.ping && channel.readyState === "open") channel.send(frame(PeerType.pong, { n: message.body.n }));
      else if (message.type === PeerType.pong) this.pings.get(message.body.n)?.();
    };
    this.ping(2000, channel);
  }

  /** Round trip of a ping, in ms (null after `timeout`). */
  async ping(timeout = 2000, channel = this.controlConfirmed ? this.control : null) {
    const nonce = this.nextId++;
    const started = performance.now();
    const answered = await new Promise((resolve) => {
      this.pings.set(nonce, () => resolve(true));
      setTimeout(() => resolve(false), timeout);
      if (channel) { if (channel.readyState === "open") channel.send(frame(PeerType.ping, { n: nonce })); }
      else this.send(PeerType.ping, { n: nonce });
    });
    this.pings.delete(nonce);
    if (answered) this.rtt = performance.now() - started;
    return answered ? this.rtt : null;
  }

  /**
   * Downloads `digest`: resolves with {bytes, type} once verified. `claim(head)` decides
   * whether this transfer goes on (false: another peer answered first).
   */
  download(digest, url, { signal, claim = () => true, stallMs = 5000, expectedSize = null } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // Memory grows with the bytes that arrived, never with what the head announces:
      // chunks in order go into a buffer that doubles as it fills (up to the announced
      // size); one ahead of its turn waits on its own until the gap before it is filled.
      // What it holds is charged to the peer's download memory, shared by every link: a
      // transfer that would go over it ends (`cancel`) and the fetch moves on.
      let head = null, buffer = null, filled = 0, next = 0, received = 0, chunks = 0, timer = null, charged = 0;
      const ahead = new Map();
      const owner = this.owner;
      const charge = (count) => {
        if (owner.downloadBytesHeld + count > owner.downloadMemory) return false;
        owner.downloadBytesHeld += count;
        charged += count;
        return true;
      };
      const refund = (count) => { owner.downloadBytesHeld -= count; charged -= count; };
      const append = (data) => {
        if (filled + data.length > buffer.length) {
          const size = Math.min(head.t, Math.max(filled + data.length, buffer.length * 2));
          if (!charge(size - buffer.length)) return false;
          const grown = new Uint8Array(size);
          grown.set(buffer.subarray(0, filled));
          buffer = grown;
        }
        buffer.set(data, filled);
        filled += data.length;
        next++;
        return true;
      };
      const overBudget = () => new PeerError("overBudget", `over the ${owner.downloadMemory} bytes all downloads may hold`);
      const finish = (error, value) => {
        clearTimeout(timer);
        clearInterval(pace);
        refund(charged);
        this.downloads.delete(id);
        signal?.removeEventListener("abort", onAbort);
        if (error) {
          // The peer stops sending: told why when it broke the protocol, else `cancel`.
          if (error.wire) this.send(PeerType.error, { c: error.wire, m: error.message, q: id });
          else if (error.code !== "miss" && error.code !== "busy") this.send(PeerType.cancel, { q: id });
          reject(error);
        } else resolve(value);
      };
      const watch = () => { clearTimeout(timer); timer = setTimeout(() => finish(new PeerError("stalled", `nothing for ${stallMs} ms`)), stallMs); };
      // After the grace, a transfer must average the minimum rate: a dripping peer
      // (a chunk just inside the stall timeout) cannot hold the fetch.
      let started = 0, bytesIn = 0, pace = null;
      const checkPace = () => {
        const seconds = (performance.now() - started) / 1000;
        if (seconds * 1000 > RATE_GRACE_MS && bytesIn / seconds < MINIMUM_RATE) {
          finish(new PeerError("tooSlow", `${Math.round(bytesIn / seconds)} bytes/s, under ${MINIMUM_RATE}`));
        }
      };
      const onAbort = () => finish(new PeerError("cancelled", "aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.downloads.set(id, {
        handle: async (type, body) => {
          watch();
          if (type === PeerType.miss) return finish(new PeerError("miss", "the peer does not hold it"));
          if (type === PeerType.busy) return finish(new PeerError("busy", "the peer is busy"));
          if (type === PeerType.error && body.c === 3009) return finish(new PeerError("busy", "the peer has too many of this side's requests"));
          if (type === PeerType.error) return finish(new PeerError("protocol", `the peer answered ${body.c}: ${body.m}`));
          if (type === PeerType.head) {
            if (head || typeof body.t !== "number" || typeof body.n !== "number" || (body.t > 0 && !(body.c > 0 && body.c <= MAX_MESSAGE))
                || (body.t > body.c && body.c < MINIMUM_CHUNK) || (body.e === 0 && body.t !== body.n)) {
              return finish(new PeerError("protocol", "an unacceptable head", 1005));
            }
            if (body.t > this.owner.maxResourceSize || body.n > this.owner.maxResourceSize) {
              return finish(new PeerError("protocol", `${body.n} bytes announced, over ${this.owner.maxResourceSize}`, 3007));
            }
            // A size already known (the origin's Content-Length) is the size.
            if (expectedSize !== null && body.n !== expectedSize) {
              return finish(new PeerError("protocol", `${body.n} bytes announced, ${expectedSize} known`, 3003));
            }
            if (!claim(body)) return finish(new PeerError("lostRace", "another peer answered first"));
            head = body;
            started = performance.now();
            pace = setInterval(checkPace, 250);
            if (!charge(Math.min(body.t, 1 << 20))) return finish(overBudget());
            buffer = new Uint8Array(Math.min(body.t, 1 << 20));
            chunks = body.t === 0 ? 0 : Math.ceil(body.t / body.c);
            if (chunks === 0) return complete();
            return;
          }
          if (type === PeerType.chunk && head) {
            const offset = body.i * head.c, data = body.b;
            const expected = Math.min(head.c, head.t - offset);
            if (!(data instanceof Uint8Array) || !Number.isInteger(body.i) || body.i < 0 || body.i >= chunks || data.length !== expected) {
              return finish(new PeerError("protocol", "a chunk out of range", 3004));
            }
            if (body.i < next || ahead.has(body.i)) return finish(new PeerError("protocol", `chunk ${body.i} twice`, 3005));
            if (body.i === next) {
              if (!append(data)) return finish(overBudget());
              while (ahead.has(next)) {
                const waiting = ahead.get(next);
                ahead.delete(next);
                refund(waiting.length);
                if (!append(waiting)) return finish(overBudget());
              }
            } else {
              if (!charge(data.length)) return finish(overBudget());
              ahead.set(body.i, data.slice());
            }
            received++;
            bytesIn += data.length;
            if (received === chunks) return complete();
            checkPace();
          }
        },
      });
      const complete = async () => {
        clearTimeout(timer);
        clearInterval(pace);
        try {
          // What it inflates to is held too, until the fetch has it.
          if (head.e === 1 && !charge(head.n)) return finish(overBudget());
          const bytes = head.e === 1 ? await inflate(buffer, head.n) : buffer;
          if (!sameBytes(await sha256(bytes), digest)) return finish(new PeerError("corrupted", "the bytes do not hash to the digest", 3002));
          finish(null, { bytes, type: head.y ?? null, transferred: head.t });
        } catch (error) {
          finish(new PeerError("protocol", `inflation failed: ${error.message}`, 3008));
        }
      };
      watch();
      this.send(PeerType.request, { q: id, d: digest, u: url, z: typeof DecompressionStream !== "undefined" });
    });
  }

  /**
   * Serves one request from the store, in ≤ 16 KiB chunks, with back-pressure; `upload` is its entry in `uploads`.
   * Deflated where it pays, as the native peer does: when the requester can inflate (`z`), the type compresses, the
   * resource is 256 bytes or more and deflate saves at least 10 %.
   */
  async upload(body, entry, upload) {
    try {
      let bytes = entry.bytes;
      // A test's liar changes the content itself, so that it is caught by the digest, deflated or not.
      if (this.owner.corruptsUploadsForTesting && bytes.length) { bytes = bytes.slice(); bytes[0] ^= 0xff; }
      let data = bytes, encoding = 0;
      if (body.z === true && bytes.length >= 256 && compressible(entry.type) && typeof CompressionStream !== "undefined") {
        const deflated = await deflate(bytes);
        if (deflated.length <= bytes.length * 0.9) { data = deflated; encoding = 1; }
      }
      if (upload.cancelled) return false;
      this.send(PeerType.head, { q: body.q, t: data.length, n: bytes.length, e: encoding, c: data.length ? CHUNK_PAYLOAD : 0, y: entry.type ?? undefined });
      for (let i = 0, offset = 0; offset < data.length; i++, offset += CHUNK_PAYLOAD) {
        if (upload.cancelled) return false;
        await this.drain();
        this.send(PeerType.chunk, { q: body.q, i, b: data.subarray(offset, Math.min(data.length, offset + CHUNK_PAYLOAD)) });
      }
      return true;
    } catch {
      return false;
    }
  }

  close() {
    try { this.channel.close(); } catch {}
    try { this.control?.close(); } catch {}
  }
}
