// The wire protocol of the browser peer (part of /fugitive.js; docs/PROTOCOL.md): message
// type numbers, [version, type, body] frames and the data-channel limits. Its numbers must be
// Swift's (WireMessageTests.theBrowserPeersConstantsAreSwifts reads this file).

import { pack, unpack, MessagePackError } from "./codec.js";

/** Server-link message types (docs/PROTOCOL.md). */
export const ServerType = Object.freeze({
  hello: 1, welcome: 2, want: 3, pair: 4, unpair: 5, signal: 6, link: 7, peerLeft: 8, have: 9, drop: 10,
  whoHas: 11, holders: 12, vouch: 13, vouched: 14, ping: 15, pong: 16, error: 17, report: 18, iceServers: 19,
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
export const CHUNK_PAYLOAD = MAX_MESSAGE - 23;
