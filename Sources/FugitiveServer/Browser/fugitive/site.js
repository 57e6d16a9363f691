// Zero integration for a site (part of /fugitive.js's modules): registers the site's copy
// of fugitive-sw.js and holds the Fugitive peer the Service Worker asks. One line in a page:
//
//   <script type="module">import("https://orchestrator.example/fugitive/site.js").then((m) => m.deliver({ origins: ["https://cdn.example"] }))</script>
//
// The page's requests for those origins then come through the swarm (verified as
// `peer.fetch` verifies), and from the network whenever the swarm cannot answer in time.

import { Fugitive } from "./peer.js";

/**
 * @param {object} options
 * @param {string[]} options.origins the origins whose GETs go through the swarm
 * @param {string} [options.server] the orchestrator's signalling URL (default: the one this module came from)
 * @param {string} [options.worker] where the site hosts fugitive-sw.js (default `/fugitive-sw.js`)
 * @param {object} [options.peer] options for `Fugitive.connect` (swarm, targetLinks, …)
 * @returns {Promise<Fugitive|null>} the peer, or null where Service Workers are unavailable
 */
export async function deliver({ origins, server, worker = "/fugitive-sw.js", peer: peerOptions = {} }) {
  if (!("serviceWorker" in navigator)) return null;
  const here = new URL(import.meta.url);
  const signalURL = server ?? `${here.protocol === "https:" ? "wss:" : "ws:"}//${here.host}/v1/signal`;
  const served = [];
  let peer = null;
  let failed = false;
  // The worker's questions wait for the peer; until it is there, or if it cannot be,
  // the answer is "no" and the worker goes to the network.
  const joined = Fugitive.connect(signalURL, peerOptions).then((p) => (peer = p), () => { failed = true; return null; });
  navigator.serviceWorker.addEventListener("message", async (event) => {
    if (event.data?.type !== "fugitive-fetch" || !event.ports[0]) return;
    const port = event.ports[0];
    const url = event.data.url;
    try {
      const p = peer ?? await joined;
      if (!p) return port.postMessage({ ok: false });
      const response = await p.fetch(url);
      const bytes = await response.arrayBuffer();
      const source = response.headers.get("X-Fugitive-Source");
      served.push({ url, source, bytes: bytes.byteLength });
      port.postMessage({ ok: true, bytes, source, type: response.headers.get("Content-Type"), digest: response.headers.get("X-Fugitive-Digest") }, [bytes]);
    } catch (error) {
      port.postMessage({ ok: false, error: String(error) });
    }
  });
  navigator.serviceWorker.startMessages();
  const query = new URLSearchParams({ origins: origins.map((o) => new URL(o).origin).join(",") });
  const registration = await navigator.serviceWorker.register(`${worker}?${query}`, { scope: "/" });
  // Tells the worker this page answers, once it controls the page (first visit: after
  // its activation claims it).
  const announce = () => navigator.serviceWorker.controller?.postMessage({ type: "fugitive-ready" });
  navigator.serviceWorker.addEventListener("controllerchange", announce);
  announce();
  await navigator.serviceWorker.ready;
  globalThis.fugitiveSite = { registration, served, get peer() { return peer; }, get failed() { return failed; } };
  return joined;
}
