// The browser peer itself (part of /fugitive.js): the Fugitive facade, its server link
// (reconnection, heartbeats, re-announcement), pairing and signalling, uploads and the
// fetch path; and attach() for pages.

import { Float64, hex, fromHex, digestText, digestBytes, sameBytes, sha256, reprDigest } from "./codec.js";
import { ServerType, PeerType, frame, parseFrame } from "./wire.js";
import { Store } from "./store.js";
import { Link } from "./link.js";

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

/** Content types a peer's `head` may give (as PeerContentType.swift): data, never markup a page would render. */
const PASSIVE_TYPES = new Set([
  "application/octet-stream", "application/json", "application/wasm", "application/pdf", "application/zip",
  "application/javascript", "text/javascript", "text/css", "text/plain", "text/csv",
  "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
]);

/** `type` when passive (parameters kept), else application/octet-stream; null stays null. */
export function passiveType(type) {
  if (type === null || type === undefined) return null;
  if (typeof type !== "string") return "application/octet-stream";
  const essence = type.split(";")[0].trim().toLowerCase();
  const passive = PASSIVE_TYPES.has(essence) || (["video/", "audio/", "font/"].some((p) => essence.startsWith(p)) && !essence.includes("xml"));
  return passive ? type : "application/octet-stream";
}

function abortError(signal) { return signal?.reason ?? new DOMException("The fetch was aborted", "AbortError"); }

/**
 * @typedef {object} FugitiveOptions
 * @property {string} [swarm] the swarm to join (default: this page's origin)
 * @property {number} [targetLinks] links to keep (4)
 * @property {number} [maxLinks] most links to accept (8)
 * @property {number} [memoryBytes] memory LRU bound (64 MiB)
 * @property {number} [diskBytes] IndexedDB bound, least recently used out first (256 MiB)
 * @property {string|null} [database] IndexedDB name for the persistent store ("fugitive"; null: memory only)
 * @property {number} [peerPhaseMs] how long peers are asked before the origin (3000)
 * @property {number} [holderWaitMs] how long a fetch waits for a link to a holder the server named, when none is linked (750)
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
    this.holderWaitMs = options.holderWaitMs ?? 750;
    this.maxResourceSize = options.maxResourceSize ?? 256 << 20;
    /** The memory all downloads from peers may hold at once, shared by every link (as a native peer's). */
    this.downloadMemory = options.downloadMemory ?? 512 << 20;
    this.downloadBytesHeld = 0;
    this.uploadSlots = options.uploadSlots ?? 8;
    this.uploadSlotsPerPeer = options.uploadSlotsPerPeer ?? 2;
    this.corruptsUploadsForTesting = !!options.corruptsUploadsForTesting;
    this.store = new Store(options.memoryBytes ?? 64 << 20, options.database === undefined ? "fugitive" : options.database, options.diskBytes ?? 256 << 20);
    /** @type {Map<string, {pc: RTCPeerConnection, link: Link|null, offerer: boolean}>} */
    this.partners = new Map();
    this.liars = new Set();
    this.requests = new Map();
    this.nextRequest = 1;
    this.uploading = 0;
    this.stats = { fromOrigin: 0, fromPeers: 0, fromStore: 0, served: 0, servedRelayed: 0, liarsCaught: 0 };
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
            // Everything held, IndexedDB included (a reloaded page holds what it stored).
            this.store.database.then(() => {
              const holdings = this.store.holdings();
              for (let i = 0; i < holdings.length; i += 256) this.sendServer(ServerType.have, { h: holdings.slice(i, i + 256) });
            });
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
      // Fresh TURN credentials before the minted ones expire: for the links made from now on.
      case ServerType.iceServers: this.iceServers = (body.i ?? []).map((s) => ({ urls: s.u, username: s.n, credential: s.c })); break;
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
    const { fromOrigin, fromPeers, served, servedRelayed } = this.stats;
    const report = `${fromOrigin}/${fromPeers}/${served}/${servedRelayed}/${this.id}`;
    if (report !== this.lastReport && this.sendServer(ServerType.report, { o: fromOrigin, p: fromPeers, s: served, r: servedRelayed })) this.lastReport = report;
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
    // The control channel (PROTOCOL.md) carries only ping and pong; it may open before
    // or after the main one.
    const control = (channel) => {
      partner.control = channel;
      channel.onopen = () => partner.link?.attachControl(channel);
    };
    const open = (channel) => {
      channel.onopen = async () => {
        const link = new Link(peer, channel, this);
        partner.link = link;
        if (partner.control?.readyState === "open") link.attachControl(partner.control);
        // Which candidates ICE chose, as native peers report them: operators pay for TURN.
        const route = await selectedRoute(pc);
        link.relayed = route !== undefined && (route.l === "relay" || route.m === "relay");
        const rtt = await link.ping();
        this.sendServer(ServerType.link, { p: peer, s: 1, r: rtt === null ? undefined : new Float64(rtt), c: route });
        this.emit("linked", { peer, rtt, relayed: link.relayed });
      };
      channel.onclose = () => this.unlink(peer, 2);
    };
    if (offerer) {
      open(pc.createDataChannel("fugitive"));
      control(pc.createDataChannel("fugitive-control"));
      pc.createOffer().then((offer) => pc.setLocalDescription(offer)).then(() => {
        this.sendServer(ServerType.signal, { p: peer, k: 1, s: pc.localDescription.sdp });
      }).catch(() => this.unlink(peer, 3));
    } else {
      pc.ondatachannel = (event) => {
        if (event.channel.label === "fugitive-control") control(event.channel);
        else if (!partner.main) open(partner.main = event.channel);
        else event.channel.close();
      };
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

  /**
   * Answers a request, in the native peer's order (PROTOCOL.md): a `q` already being
   * answered → 1006; this link's share of the slots taken → 3009; all slots taken → busy;
   * then miss. The slot is taken before the store is read.
   */
  async serve(link, body) {
    if (link.uploads.has(body.q)) return link.refuse(body.q, 1006, `request ${body.q} is already being answered`);
    if (link.uploads.size >= this.uploadSlotsPerPeer) return link.refuse(body.q, 3009, `${this.uploadSlotsPerPeer} requests of this link are under way`);
    if (this.uploading >= this.uploadSlots) return link.send(PeerType.busy, { q: body.q, r: 500 });
    const upload = { cancelled: false };
    link.uploads.set(body.q, upload);
    this.uploading++;
    try {
      const digest = body.d;
      const entry = digest instanceof Uint8Array && digest.length === 32 ? await this.store.get(digest) : null;
      if (!entry) return link.send(PeerType.miss, { q: body.q });
      if (await link.upload(body, entry, upload)) {
        this.stats.served += entry.bytes.length;
        if (link.relayed) this.stats.servedRelayed += entry.bytes.length;
        this.emit("served", { peer: link.peer, bytes: entry.bytes.length });
      }
    } finally {
      link.uploads.delete(body.q);
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
    let expectedSize = null;
    if (!trusted) {
      try {
        const head = await fetch(url, { method: "HEAD", signal });
        trusted = head.ok ? reprDigest(head.headers.get("Repr-Digest")) : null;
        type = head.headers.get("Content-Type");
        // The size, when this page can tell that Content-Length is the resource's own (a
        // same-origin answer shows Content-Encoding; a cross-origin one may hide it).
        const length = Number(head.headers.get("Content-Length"));
        if (trusted && head.type === "basic" && !head.headers.has("Content-Encoding") && Number.isSafeInteger(length)) expectedSize = length;
      } catch (error) { check(); }
      if (!trusted) {
        const vouched = await this.ask(ServerType.vouch, { u: url });
        if (vouched?.d instanceof Uint8Array && vouched.u === url) trusted = vouched.d;
      }
    }
    check();
    if (trusted) {
      const found = await this.fromPeers(url, trusted, signal, expectedSize);
      check();
      if (found) {
        // The origin's type wins; a peer's counts only when passive (never HTML, SVG, XML).
        const chosen = type ?? passiveType(found.type);
        await this.keep(url, trusted, found.bytes, chosen);
        return answer(found.bytes, chosen, trusted, `peer ${found.peer}`);
      }
    }
    // no-store: the swarm is this page's cache (and fugitive-sw.js leaves such requests
    // to the network rather than asking this page again).
    const response = await fetch(url, { signal, cache: "no-store" });
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
  async fromPeers(url, digest, signal, expectedSize = null) {
    const deadline = performance.now() + this.peerPhaseMs;
    const key = hex(digest);
    const holders = ((await this.ask(ServerType.whoHas, { d: digest, n: 16 }))?.p ?? []).filter((p) => p !== this.id && !this.liars.has(`${p}/${key}`));
    let links = this.links().filter((l) => !this.liars.has(`${l.peer}/${key}`));
    let named = links.filter((l) => holders.includes(l.peer));
    if (!named.length && holders.length && this.partners.size < this.maxLinks) {
      // Tier 2, and a fresh page in a warm swarm: the server knows holders this page has
      // no link to. Ask to be paired with them and wait, within a bound, for one link.
      const wanted = holders.filter((p) => !this.partners.has(p)).slice(0, 8);
      if (wanted.length) this.sendServer(ServerType.want, { n: Math.min(wanted.length, this.maxLinks - this.partners.size, 2), d: [digest], p: wanted });
      const until = Math.min(deadline, performance.now() + this.holderWaitMs);
      while (!named.length && performance.now() < until && !signal?.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        links = this.links().filter((l) => !this.liars.has(`${l.peer}/${key}`));
        named = links.filter((l) => holders.includes(l.peer));
      }
    }
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
        expectedSize,
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

/**
 * The types of the local and remote candidates of the pair ICE selected (`host`, `srflx`,
 * `prflx`, `relay`), as the `link` message's `c` carries them; undefined when the
 * statistics do not say.
 */
async function selectedRoute(pc) {
  try {
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) ?? pair; });
    if (!pair) stats.forEach((s) => { if (!pair && s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
    const local = pair ? stats.get(pair.localCandidateId) : undefined;
    const remote = pair ? stats.get(pair.remoteCandidateId) : undefined;
    if (!local?.candidateType || !remote?.candidateType) return undefined;
    return { l: local.candidateType, m: remote.candidateType };
  } catch {
    return undefined;
  }
}
