"""Two RTCPeerConnections in one headless Chromium page (Debian's chromium, through
Playwright) on loopback: one data channel, --megabytes in --size messages. Prints
{"MBps": …, "bytes": …, "seconds": …}: the reference of `fugitive-bench rtc`."""

import argparse
import asyncio
import json
import shutil

from playwright.async_api import async_playwright

ORIGIN = "http://localhost:9/"
SCRIPT = """
async ({ total, size }) => {
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const channel = a.createDataChannel("bulk");
  let received = 0;
  const done = new Promise((resolve) => {
    b.ondatachannel = (event) => {
      event.channel.binaryType = "arraybuffer";
      event.channel.onmessage = (m) => { received += m.data.byteLength; if (received >= total) resolve(performance.now()); };
    };
  });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await new Promise((resolve) => (channel.onopen = resolve));
  const payload = new Uint8Array(size);
  channel.bufferedAmountLowThreshold = 1 << 20;
  const start = performance.now();
  for (let sent = 0; sent < total; sent += size) {
    if (channel.bufferedAmount > 8 << 20) await new Promise((r) => (channel.onbufferedamountlow = r));
    channel.send(payload.subarray(0, Math.min(size, total - sent)));
  }
  const end = await done;
  return { MBps: total / 1e6 / ((end - start) / 1000), bytes: total, seconds: (end - start) / 1000 };
}
"""


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--size", type=int, default=16 * 1024)
    args = parser.parse_args()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--allow-loopback-in-peer-connection"])
        page = await browser.new_page()
        await page.route(ORIGIN, lambda route: route.fulfill(body="<!doctype html><title>bulk</title>", content_type="text/html"))
        await page.goto(ORIGIN)
        result = await page.evaluate(SCRIPT, {"total": args.megabytes * 1_000_000, "size": args.size})
        print(json.dumps(result))
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
