// Fugitive browser peer: ES modules with no build step, served by the orchestrator at
// /fugitive.js. It joins a swarm over the server's WebSocket, keeps RTCPeerConnection data
// channels to a few peers, and answers fetch(url) from memory, then IndexedDB, then its
// peers (bytes verified by SHA-256), then the origin — and serves what it holds to others.
// The wire protocol is docs/PROTOCOL.md: MessagePack [version, type, body] frames.
//
// This module is the public API; the code is in ./fugitive/, served at /fugitive/<name>.js:
//   codec.js  MessagePack, digests (hex, SHA-256, Repr-Digest), raw-deflate inflation
//   wire.js   message type numbers, [version, type, body] frames, data-channel limits (codec)
//   store.js  the memory LRU in front of IndexedDB (codec)
//   link.js   the peer protocol on one data channel (codec, wire)
//   peer.js   Fugitive: the server link, pairing, uploads, the fetch path; attach() (all four)

export { Float64, pack, MessagePackError, unpack, digestText, digestBytes, sha256 } from "./fugitive/codec.js";
export { ServerType, PeerType, frame, parseFrame, MAX_MESSAGE } from "./fugitive/wire.js";
export { Fugitive, attach } from "./fugitive/peer.js";
