// One peer-to-peer link of the browser peer (part of /fugitive.js): the peer protocol on
// an RTCDataChannel, downloads verified by SHA-256 and uploads with back-pressure.

import { inflate, sameBytes, sha256 } from "./codec.js";
import { PeerType, frame, parseFrame, MAX_MESSAGE, CHUNK_PAYLOAD } from "./wire.js";

/** Why a peer could not deliver; the fetch then tries elsewhere. */
class PeerError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;

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
