// Fugitive's Service Worker: a site hosts this one file on its own origin (a Service
// Worker must be same-origin with its pages) and `/fugitive/site.js` registers it. It
// answers the page's GET requests for the origins named in its URL (`?origins=` a
// comma-separated list, each scheme://host[:port]) through the swarm: it asks the page
// that holds the Fugitive peer (Service Workers cannot hold RTCPeerConnections), which
// fetches as `peer.fetch` does (store → peers, verified against a trusted SHA-256 →
// origin). Everything else, and every request the page cannot answer within the bound,
// goes to the network unchanged. A single byte range (`Range: bytes=a-b`, `a-`, `-n`, as
// `<video>` asks) is answered 206 from the verified whole; any other range goes to the
// network.

const parameters = new URL(self.location.href).searchParams;
const ORIGINS = new Set((parameters.get("origins") ?? "").split(",").filter(Boolean).map((o) => { try { return new URL(o).origin; } catch { return null; } }).filter(Boolean));
/** How long the page may take to answer before the request goes to the network. */
const ANSWER_MS = Number(parameters.get("answerMs") ?? 4000);
/** How long a page just opened may take to say it holds a peer. */
const READY_MS = Number(parameters.get("readyMs") ?? 1500);

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/** Client ids whose page said it holds a peer, with the waiters for those not yet ready. */
const ready = new Set();
const waiting = new Map();

self.addEventListener("message", (event) => {
  if (event.data?.type !== "fugitive-ready" || !event.source) return;
  ready.add(event.source.id);
  for (const wake of waiting.get(event.source.id) ?? []) wake(true);
  waiting.delete(event.source.id);
});

function whenReady(id) {
  if (ready.has(id)) return Promise.resolve(true);
  return new Promise((resolve) => {
    waiting.set(id, [...(waiting.get(id) ?? []), resolve]);
    setTimeout(() => resolve(false), READY_MS);
  });
}

/** A peer-holding page for this request: its own page, else any that is ready. */
async function peerClient(event) {
  const own = event.clientId ? await self.clients.get(event.clientId) : null;
  if (own && await whenReady(own.id)) return own;
  const all = await self.clients.matchAll({ type: "window" });
  return all.find((client) => ready.has(client.id)) ?? null;
}

/** `Range: bytes=…` as {start, end} (end inclusive) for a resource of `size` bytes; null when unsatisfiable. */
function byteRange(header, size) {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  let start, end;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : null;
}

function eligible(request) {
  if (request.method !== "GET" || request.cache === "no-store") return false;
  const range = request.headers.get("Range");
  if (range !== null && !/^bytes=\d*-\d*$/.test(range.trim())) return false;
  const url = new URL(request.url);
  return ORIGINS.has(url.origin) && (url.protocol === "https:" || url.protocol === "http:");
}

/** The page's answer as a Response, or null (then the network answers). */
async function throughSwarm(event) {
  const client = await peerClient(event);
  if (!client) return null;
  const channel = new MessageChannel();
  const answer = new Promise((resolve) => {
    channel.port1.onmessage = (message) => resolve(message.data);
    setTimeout(() => resolve(null), ANSWER_MS);
  });
  client.postMessage({ type: "fugitive-fetch", url: event.request.url }, [channel.port2]);
  const data = await answer;
  channel.port1.close();
  if (!data?.ok || !(data.bytes instanceof ArrayBuffer)) return null;
  const size = data.bytes.byteLength;
  const headers = {
    "Content-Type": data.type ?? "application/octet-stream",
    "Accept-Ranges": "bytes",
    "X-Fugitive-Source": data.source,
    "X-Fugitive-Digest": data.digest ?? "",
  };
  const asked = event.request.headers.get("Range");
  if (asked === null) return new Response(data.bytes, { status: 200, headers: { ...headers, "Content-Length": String(size) } });
  const range = byteRange(asked, size);
  if (!range) return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${size}` } });
  const part = data.bytes.slice(range.start, range.end + 1);
  return new Response(part, {
    status: 206,
    headers: { ...headers, "Content-Length": String(part.byteLength), "Content-Range": `bytes ${range.start}-${range.end}/${size}` },
  });
}

self.addEventListener("fetch", (event) => {
  if (!eligible(event.request)) return;
  event.respondWith((async () => {
    try {
      const response = await throughSwarm(event);
      if (response) return response;
    } catch {}
    return fetch(event.request);
  })());
});
