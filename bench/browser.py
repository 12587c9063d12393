"""A phone on a slow connection: a 1,000-post story's reader page in a throttled Chromium.

A harness, not a test. It starts a real `liveblog serve` (one worker, SQLite in a temp dir),
writes a 1,000-post story through the API (bench/longstory.py's `long_story`), then opens
the reader page `--runs` times in Debian's Chromium (Playwright, /usr/bin/chromium), each
time in a fresh phone-sized context with the cache off and, through the DevTools protocol,
`Network.emulateNetworkConditions` (1.6 Mbps down, 750 kbps up, 150 ms round trip) and
`Emulation.setCPUThrottlingRate` (4x). Per run it records DOMContentLoaded and load (the
navigation's timing), the bytes received for the document and for everything the page
loaded (compressed, as on the wire, headers included), then clicks "load older updates"
once and records the time until the older posts are in the list and the bytes it cost.
It reports the median of the runs against issue 11's targets and saves one screenshot.

    .venv/bin/python bench/browser.py --runs 5 --out bench/results/2026-12-06-browser

Outputs under --out: summary.json, summary.md and reader-phone.png. The server and the
browser are stopped by PID / by Playwright when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from longstory import PatientServer, long_story  # noqa: E402
from report import machine_info  # noqa: E402
from servers import prepare, server_env  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}
NETWORK = {  # bytes per second, as the DevTools protocol wants them
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
CPU_SLOWDOWN = 4
DETAIL = ("response_start", "response_end", "dom_interactive", "resources")  # ms, for reading
TARGETS = {"first_page_kb": 60, "dom_content_loaded_s": 2.5}
TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource").map((r) => [
    r.name.split("/").pop().split("?")[0], Math.round(r.startTime), Math.round(r.responseEnd)]);
  return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          response_start: nav.responseStart, response_end: nav.responseEnd,
          dom_interactive: nav.domInteractive, resources,
          posts: document.querySelectorAll("#updates > .post").length};
}"""


class Wire:
    """Count the bytes Chromium receives, per request, from the DevTools protocol."""

    def __init__(self, cdp: Any) -> None:
        self.received: dict[str, int] = {}
        self.urls: dict[str, str] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def _finished(self, event: dict[str, Any]) -> None:
        self.received[event["requestId"]] = int(event["encodedDataLength"])

    def total(self) -> int:
        """Return every byte received so far."""
        return sum(self.received.values())

    def of(self, url: str) -> int:
        """Return the bytes received for the requests to `url`."""
        return sum(n for rid, n in self.received.items() if self.urls.get(rid) == url)


def throttled_page(browser: Any, slowdown: float) -> tuple[Any, Any, Wire, Any]:
    """Open a phone-sized page on a slow network and a 4x slower CPU, with the cache off."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="id-ID"
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    wire = Wire(cdp)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", NETWORK)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    cdp.send("Performance.enable")
    return context, page, wire, cdp


def one_run(browser: Any, url: str, shot: Path | None, slowdown: float) -> dict[str, Any]:
    """Load the page, then load older posts once; return the timings and bytes."""
    context, page, wire, cdp = throttled_page(browser, slowdown)
    try:
        page.goto(url, wait_until="load", timeout=120_000)
        timing = page.evaluate(TIMING)
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        first = {"document": wire.of(url), "all": wire.total()}
        if shot is not None:
            page.screenshot(path=str(shot))
        page.wait_for_selector("#load-older:not([hidden])")
        before, shown = wire.total(), timing["posts"]
        started = time.monotonic()
        page.click("#load-older")
        page.wait_for_function(
            "(n) => document.querySelectorAll('#updates > .post').length > n",
            arg=shown,
            timeout=120_000,
        )
        page.wait_for_function("() => !document.getElementById('load-older')?.disabled")
        older_s = time.monotonic() - started
        time.sleep(0.5)  # let the protocol report the finished response
        older_posts = page.evaluate("() => document.querySelectorAll('#updates > .post').length")
        return {
            "dom_content_loaded_s": round(timing["dcl"] / 1000, 3),
            "load_s": round(timing["load"] / 1000, 3),
            "first_posts": shown,
            "first_document_bytes": first["document"],
            "first_all_bytes": first["all"],
            "older_s": round(older_s, 3),
            "older_posts_added": older_posts - shown,
            "older_bytes": wire.total() - before,
            "main_thread_busy_s": round(metrics.get("TaskDuration", 0.0), 3),
            "detail": {k: timing[k] for k in DETAIL},
        }
    finally:
        context.close()


def median(runs: list[dict[str, Any]], key: str) -> float:
    """Return the median of one measure over the runs."""
    return float(statistics.median(r[key] for r in runs))


def summary_md(report: dict[str, Any]) -> str:
    """Return the Markdown summary: the medians against the targets."""
    m = report["median"]
    kb = 1000
    lines = [
        f"{report['posts']} posts, {len(report['runs'])} runs, medians; phone 360x740, "
        f"1.6 Mbps / 750 kbps / 150 ms RTT, CPU {report['cpu_slowdown']:g}x slower, cache off.",
        "",
        "| measure | median | target |",
        "|---|---|---|",
        f"| DOMContentLoaded | {m['dom_content_loaded_s']:.2f} s | ≤ 2.5 s |",
        f"| load | {m['load_s']:.2f} s | |",
        f"| first page, document on the wire | {m['first_document_bytes'] / kb:.1f} KB "
        "| ≤ 60 KB |",
        f"| first page, everything on the wire | {m['first_all_bytes'] / kb:.1f} KB | |",
        f"| load older once: time to posts shown | {m['older_s']:.2f} s | |",
        f"| load older once: bytes on the wire | {m['older_bytes'] / kb:.1f} KB | |",
        f"| main thread busy until load (4x slowed) | {m['main_thread_busy_s']:.2f} s | |",
        "",
        f"Load average (1 min) at start / end: {report['load_before']} / {report['load_after']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build the story, measure `--runs` page loads, write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpu-slowdown", type=float, default=CPU_SLOWDOWN)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "browser")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="liveblog-browser-") as tmp:
        url = f"sqlite:///{tmp}/long.db"
        token = prepare(url)
        server = PatientServer(server_env(Path(tmp), url)).start()
        try:
            slug = long_story(server, token, args.posts)
            page_url = f"{server.base}/stories/{slug}?lang=id"
            args.out.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    # The first load warms the server's render cache; it is not counted.
                    one_run(browser, page_url, None, args.cpu_slowdown)
                    runs = []
                    for n in range(args.runs):
                        shot = args.out / "reader-phone.png" if n == 0 else None
                        runs.append(one_run(browser, page_url, shot, args.cpu_slowdown))
                        print(json.dumps(runs[-1]), file=sys.stderr)
                finally:
                    browser.close()
        finally:
            server.stop()
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "posts": args.posts,
        "network": NETWORK,
        "cpu_slowdown": args.cpu_slowdown,
        "viewport": PHONE,
        "targets": TARGETS,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "median": {key: median(runs, key) for key in runs[0] if key != "detail"},
        "runs": runs,
    }
    (args.out / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
    md = summary_md(report)
    (args.out / "summary.md").write_text(md)
    print(md, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
