"""Headless Chromium as a peer for FugitiveRTC's interop tests, driven with Playwright
(from PyPI) on Debian's own `chromium`. Same stdin/stdout protocol and options as
aiortc_peer.py; the WebRTC side lives in chromium_peer.html.
"""

import argparse
import asyncio
import json
import pathlib
import shutil
import signal
import sys

from playwright.async_api import async_playwright

# A parent that spawned us from a thread with signals blocked passes the mask on.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])

PAGE = pathlib.Path(__file__).with_name("chromium_peer.html").read_text()
# localhost is a secure context (WebRTC, getUserMedia, crypto.subtle); the page is
# served by Playwright's router, no server needed.
ORIGIN = "http://localhost:9/"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Loopback candidates, and media permission without a prompt (see the page).
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["offer", "answer"], required=True)
    parser.add_argument("--channel", choices=["local", "remote"], required=True)
    parser.add_argument("--bytes", type=int, default=10_000_000)
    parser.add_argument("--size", type=int, default=16 * 1024)
    parser.add_argument("--receive-bytes", type=int, help="bytes to wait for (default: --bytes)")
    parser.add_argument("--plain", action="store_true", help="accepted for rtc-peer's options; the page always hashes, after the clock stops")
    parser.add_argument("--address", help="accepted for rtc-peer's options; Chromium gathers on every interface")
    args = parser.parse_args()

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
        page = await browser.new_page()
        page.on("console", lambda message: print("console:", message.text, file=sys.stderr))
        page.on("pageerror", lambda error: print("pageerror:", error, file=sys.stderr))
        await page.route(ORIGIN, lambda route: route.fulfill(body=PAGE, content_type="text/html"))
        def on_emit(source, message):
            emit(message)

        await page.expose_binding("emit", on_emit)
        await page.goto(ORIGIN)
        options = {"role": args.role, "channel": args.channel, "total": args.bytes, "size": args.size,
                   "receiveTotal": args.bytes if args.receive_bytes is None else args.receive_bytes}
        await page.evaluate("(options) => fugitive.start(options)", options)

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        async def signalling():
            while line := await reader.readline():
                await page.evaluate("(message) => fugitive.receive(message)", json.loads(line))

        # What the page sent may still sit in Chromium's SCTP buffer: stay until the
        # other side is done with us (it closes our stdin, or kills us).
        await signalling()
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
