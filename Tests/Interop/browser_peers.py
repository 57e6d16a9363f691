"""Browser peers for the tests: headless Chromium (Debian's, through Playwright) pages
that import the server's /fugitive.js. Driven by JSON lines on stdin, one answer per
line on stdout:

  {"op": "open", "name": "A", "options": {...}}      -> {"ok": true, "id": "<peer id>"}
  {"op": "waitLinks", "name": "A", "count": 1}        -> {"ok": true, "links": n}
  {"op": "fetch", "name": "A", "url": "...", "digest": null, "abortAfterMs": null}
                                                      -> {"ok": true, "source", "digest", "sha256", "length"} or {"ok": false, "error"}
  {"op": "stats", "name": "A"}                        -> {"ok": true, "stats": {...}, "uploading": n, "links": n, "downloadBytesHeld": n}
  {"op": "codec", "frames": ["<hex>", ...]}           -> {"ok": true, "reencoded": ["<hex>", ...]}
  {"op": "site", "name": "S", "url": "...", "fetches": [...], "images": [...], "ranges": [{"url", "range"}], "videos": [{"url", "seek"}], "waitLinks": n?}
                                                      -> {"ok": true, "fetched": [{status, source, sha256, length}], "ranged": [{status, contentRange, …}], "images": [n, ...], "served": [...]}
      (a site's page that loads /fugitive/site.js: once its Service Worker controls it, the
      page's own fetch()es and <img>s; `served` is what its peer answered the worker; kept open)
  {"op": "gallery", "origin": "...", "paths": [...]}  -> {"ok": true, "sources": [...], "loaded": n} (the server's /demo page, kept open)
  {"op": "reload", "name": "A", "options": {...}}     -> {"ok": true, "id": "<peer id>"} (the same page reloaded, its storage kept, a new peer)
  {"op": "quit"}
Each page runs in its own browser context (no shared storage)."""

import argparse
import asyncio
import json
import shutil
import signal
import sys

from playwright.async_api import async_playwright

signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])

FLAGS = ["--no-sandbox", "--disable-gpu", "--allow-loopback-in-peer-connection",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

OPEN = """async ({server, options}) => {
  // Media permission makes Chromium offer raw host candidates instead of mDNS names.
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  stream.getTracks().forEach((t) => t.stop());
  globalThis.FUGITIVE_DEBUG = !!options.debug;
  const { Fugitive } = await import("/fugitive.js");
  window.peer = await Fugitive.connect(server, options);
  return window.peer.id;
}"""

WAIT_LINKS = """async ({count, timeout}) => {
  const end = performance.now() + timeout;
  while (window.peer.links().length < count && performance.now() < end) await new Promise((r) => setTimeout(r, 50));
  return window.peer.links().length;
}"""

FETCH = """async ({url, digest, abortAfterMs}) => {
  const controller = new AbortController();
  if (abortAfterMs !== null) setTimeout(() => controller.abort(), abortAfterMs);
  try {
    const response = await window.peer.fetch(url, {digest: digest ?? undefined, signal: controller.signal});
    const bytes = new Uint8Array(await response.arrayBuffer());
    const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
    return {ok: true, source: response.headers.get("X-Fugitive-Source"), digest: response.headers.get("X-Fugitive-Digest"), sha256: sha, length: bytes.length,
            type: response.headers.get("Content-Type")};
  } catch (error) {
    return {ok: false, error: String(error && (error.name + ": " + error.message))};
  }
}"""

STATS = """() => ({ok: true, stats: window.peer.stats, uploading: window.peer.uploading, links: window.peer.links().length,
                  downloadBytesHeld: window.peer.downloadBytesHeld})"""

SITE = """async ({fetches, images, ranges, videos}) => {
  const hex = async (buffer) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", buffer))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const fetched = [];
  for (const url of fetches) {
    try {
      const response = await fetch(url);
      const bytes = await response.arrayBuffer();
      fetched.push({status: response.status, source: response.headers.get("X-Fugitive-Source"), sha256: await hex(bytes), length: bytes.byteLength});
    } catch (error) {
      fetched.push({error: error.name});
    }
  }
  const ranged = [];
  for (const {url, range} of ranges) {
    const response = await fetch(url, {headers: {Range: range}});
    const bytes = await response.arrayBuffer();
    ranged.push({status: response.status, contentRange: response.headers.get("Content-Range"), source: response.headers.get("X-Fugitive-Source"),
                 sha256: await hex(bytes), length: bytes.byteLength});
  }
  const widths = [];
  for (const url of images) {
    const image = new Image();
    await new Promise((resolve) => { image.onload = image.onerror = resolve; image.src = url; document.body.append(image); });
    widths.push(image.naturalWidth);
  }
  const played = [];
  for (const {url, seek} of videos) {
    const video = document.createElement("video");
    video.muted = true;
    video.preload = "auto";
    const loaded = await new Promise((resolve) => {
      video.onloadeddata = () => resolve(true);
      video.onerror = () => resolve(false);
      setTimeout(() => resolve(false), 15000);
      video.src = url;
      document.body.append(video);
    });
    const seeked = loaded && await new Promise((resolve) => {
      video.onseeked = () => resolve(true);
      setTimeout(() => resolve(false), 15000);
      video.currentTime = seek;
    });
    played.push({loaded, seeked, duration: video.duration, currentTime: video.currentTime, readyState: video.readyState, error: video.error?.code ?? null});
  }
  return {ok: true, fetched, ranged, images: widths, videos: played, served: globalThis.fugitiveSite.served};
}"""

CODEC = """async (frames) => {
  const { pack, unpack } = await import("/fugitive.js");
  const fromHex = (h) => new Uint8Array(h.match(/../g) ?? []).map((_, i) => parseInt(h.substr(2 * i, 2), 16));
  const toHex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return {ok: true, reencoded: frames.map((h) => { try { return toHex(pack(unpack(fromHex(h)))); } catch (e) { return "error: " + e.message; } })};
}"""


async def watched_page(browser):
    """A page in a browser context of its own, with its errors and console kept."""
    context = await browser.new_context(permissions=["microphone"])
    page = await context.new_page()
    errors = []
    console = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    return page, errors, console


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="http://host:port of the orchestrator")
    args = parser.parse_args()
    signal_url = args.server.replace("http://", "ws://") + "/v1/signal"
    pages = {}
    async with async_playwright() as playwright:
        # The server's pages need a secure context (WebCrypto, media permissions) also
        # when it is not on localhost (a network lab's public address).
        secure = [f"--unsafely-treat-insecure-origin-as-secure={args.server}"]
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS + secure)
        scratch = await (await browser.new_context()).new_page()
        await scratch.goto(args.server + "/demo")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            op = command["op"]
            try:
                if op == "quit":
                    break
                if op == "open":
                    page, errors, console = await watched_page(browser)
                    await page.goto(args.server + "/demo")
                    peer_id = await page.evaluate(OPEN, {"server": signal_url, "options": command.get("options", {})})
                    pages[command["name"]] = (page, errors, console)
                    answer = {"ok": True, "id": peer_id}
                elif op == "reload":
                    page = pages[command["name"]][0]
                    await page.reload()
                    peer_id = await page.evaluate(OPEN, {"server": signal_url, "options": command.get("options", {})})
                    answer = {"ok": True, "id": peer_id}
                elif op == "waitLinks":
                    links = await pages[command["name"]][0].evaluate(WAIT_LINKS, {"count": command["count"], "timeout": command.get("timeout", 20000)})
                    answer = {"ok": True, "links": links}
                elif op == "fetch":
                    answer = await pages[command["name"]][0].evaluate(FETCH, {"url": command["url"], "digest": command.get("digest"), "abortAfterMs": command.get("abortAfterMs")})
                elif op == "stats":
                    page, errors, console = pages[command["name"]]
                    answer = await page.evaluate(STATS)
                    answer["pageErrors"] = errors
                    answer["console"] = console[-50:]
                elif op == "gallery":
                    context = await browser.new_context(permissions=["microphone"])
                    page = await context.new_page()
                    await page.goto(args.server + "/demo")
                    await page.evaluate("""async () => { const s = await navigator.mediaDevices.getUserMedia({audio: true}); s.getTracks().forEach((t) => t.stop()); }""")
                    query = "?origin=" + command["origin"] + "&paths=" + ",".join(command["paths"])
                    await page.goto(args.server + "/demo" + query)
                    await page.wait_for_function("() => [...document.querySelectorAll('figcaption')].every((c) => c.querySelector('b'))", timeout=30000)
                    sources = await page.eval_on_selector_all("img", "images => images.map((i) => i.dataset.fugitiveSource)")
                    loaded = await page.eval_on_selector_all("img", "images => images.filter((i) => i.complete && i.naturalWidth > 0).length")
                    pages["gallery-" + str(len(pages))] = (page, [], [])
                    answer = {"ok": True, "sources": sources, "loaded": loaded}
                elif op == "site":
                    page, errors, console = await watched_page(browser)
                    await page.goto(command["url"])
                    # The worker controls the page once it has activated and claimed it.
                    await page.wait_for_function("() => globalThis.fugitiveSite && navigator.serviceWorker.controller", timeout=20000)
                    await page.evaluate("async () => { await window.sitePeer; return true; }")
                    if command.get("waitLinks"):
                        await page.evaluate(WAIT_LINKS, {"count": command["waitLinks"], "timeout": 20000})
                    answer = await page.evaluate(SITE, {"fetches": command.get("fetches", []), "images": command.get("images", []), "ranges": command.get("ranges", []), "videos": command.get("videos", [])})
                    answer["pageErrors"] = errors
                    pages[command["name"]] = (page, errors, console)
                elif op == "codec":
                    answer = await scratch.evaluate(CODEC, command["frames"])
                else:
                    answer = {"ok": False, "error": f"unknown op {op}"}
            except Exception as error:
                answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
