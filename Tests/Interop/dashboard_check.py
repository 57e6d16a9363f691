"""Loads the orchestrator's /dashboard in headless Chromium (Debian's chromium through
Playwright), waits until it shows peers and a plot with data, saves a screenshot, and
prints one JSON object: what the page showed and every console or page error."""

import argparse
import asyncio
import json
import shutil

from playwright.async_api import async_playwright


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    errors = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(args.url)
        shown = {"peers": None, "points": 0, "peerBytes": None}
        try:
            await page.wait_for_function(
                """() => Number(document.getElementById('peer-count').textContent) > 0
                      && Number(document.getElementById('plot').dataset.points) >= 3""",
                timeout=args.timeout * 1000)
        except Exception as error:  # reported below, with what the page did show
            errors.append(f"timed out: {error}")
        shown["peers"] = await page.eval_on_selector("#peer-count", "e => e.textContent")
        shown["points"] = int(await page.eval_on_selector("#plot", "e => e.dataset.points"))
        shown["peerBytes"] = await page.eval_on_selector("#peer-bytes", "e => e.textContent")
        shown["graphNodes"] = await page.eval_on_selector_all("#graph circle", "nodes => nodes.length")
        await page.screenshot(path=args.screenshot, full_page=True)
        await browser.close()
    print(json.dumps({"shown": shown, "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main())
