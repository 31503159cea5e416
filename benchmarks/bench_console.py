"""Benchmark the agent console: page weight, first render, and Suggest's round trip.

Starts ``cxplay serve --workers 2 --no-auth --no-watch`` (shipped playbooks) on loopback and
measures, in one run, each figure next to a baseline measured the same way:

* **weight** -- the bytes of ``/`` and every asset it loads (script, stylesheet), as sent
  and gzip-compressed (what a proxy with compression would send); the target is
  <= 150 KB sent;
* **first render** -- ``first-contentful-paint`` of ``/`` in Debian's Chromium (Playwright),
  median and worst of ``--renders`` fresh page loads, against the same measure for a
  one-paragraph HTML page served by Python's ``http.server`` on loopback (the floor a
  browser needs for any page); target <= 200 ms;
* **Suggest round trip** -- ``POST /v1/suggest`` of the example incidents over one
  keep-alive connection, p50 and p95 of ``--requests`` requests, against ``GET /healthz``
  on the same connection (the floor of an HTTP request to this server); target p95 <= 50 ms.

The load average is printed with the figures: the machine is shared, so ratios to the
baseline are what compare between runs. ``--quick`` is a smoke run; ``--json`` prints one
object.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import http.server
import json
import os
import re
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"

from tests.serving import start_serve  # noqa: E402  (the repository's helper, not a test)


def _get(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status}")
    return body


def weight(port: int) -> dict[str, Any]:
    page = _get(port, "/?lang=en")
    assets = re.findall(rb'(?:src|href)="(/static/[^"]+)"', page)
    parts = {"/": page} | {a.decode(): _get(port, a.decode()) for a in assets}
    sent = sum(len(b) for b in parts.values())
    zipped = sum(len(gzip.compress(b, 6)) for b in parts.values())
    return {
        "files": {name: len(body) for name, body in parts.items()},
        "kb": round(sent / 1024, 1),
        "gzip_kb": round(zipped / 1024, 1),
    }


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _floor_server(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    (directory / "floor.html").write_text(
        '<!doctype html><html lang="en"><title>floor</title><p>One paragraph.</p></html>',
        encoding="utf-8",
    )

    def handler(*args: Any, **kwargs: Any) -> _Quiet:
        return _Quiet(*args, directory=str(directory), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


FCP = """() => new Promise((done) => {
  const seen = performance.getEntriesByName("first-contentful-paint");
  if (seen.length) return done(seen[0].startTime);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.name === "first-contentful-paint") done(entry.startTime);
    }
  }).observe({type: "paint", buffered: true});
})"""


def first_render(urls: dict[str, str], renders: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for name, url in urls.items():
            times = []
            for _ in range(renders + 1):  # the first load warms the browser up
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                page = context.new_page()
                page.goto(url)
                times.append(float(page.evaluate(FCP)))
                context.close()
            times = times[1:]
            out[name] = {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
            }
        browser.close()
    out["ratio"] = round(out["console"]["median_ms"] / out["floor"]["median_ms"], 2)
    return out


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def round_trip(port: int, requests: int) -> dict[str, Any]:
    bodies = [p.read_bytes() for p in sorted((ROOT / "examples" / "incidents").glob("*.json"))]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}

    def timed(method: str, path: str, body: bytes | None) -> float:
        start = time.perf_counter()
        connection.request(method, path, body=body, headers=headers if body else {})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{method} {path}: {response.status}")
        return (time.perf_counter() - start) * 1000

    for body in bodies:  # warm up every worker's engine
        timed("POST", "/v1/suggest", body)
    suggest = [timed("POST", "/v1/suggest", bodies[k % len(bodies)]) for k in range(requests)]
    health = [timed("GET", "/healthz", None) for _ in range(requests)]
    connection.close()
    p95, floor = _percentile(suggest, 0.95), _percentile(health, 0.95)
    return {
        "requests": requests,
        "suggest_p50_ms": round(statistics.median(suggest), 2),
        "suggest_p95_ms": round(p95, 2),
        "healthz_p95_ms": round(floor, 2),
        "ratio_p95": round(p95 / floor, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=15)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.renders, args.requests = 2, 30
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXPLAY_")}
    process, port = start_serve("--workers", "2", "--no-auth", env=env)
    floor_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"cxplay-bench-console-{os.getpid()}"
    floor_dir.mkdir(exist_ok=True)
    floor, floor_port = _floor_server(floor_dir)
    try:
        result: dict[str, Any] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
        result["weight"] = weight(port)
        result["first_render"] = first_render(
            {
                "console": f"http://127.0.0.1:{port}/?lang=en",
                "floor": f"http://127.0.0.1:{floor_port}/floor.html",
            },
            args.renders,
        )
        result["round_trip"] = round_trip(port, args.requests)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        floor.shutdown()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    if args.json:
        print(json.dumps(result))
        return
    w, r, t = result["weight"], result["first_render"], result["round_trip"]
    print(f"load average {result['load_average']} -> {result['load_average_after']}")
    print(
        f"weight        {w['kb']} KB sent ({w['gzip_kb']} KB gzip): {w['files']}"
        "  (target <= 150 KB)"
    )
    print(
        f"first render  console {r['console']['median_ms']} ms median, "
        f"{r['console']['max_ms']} ms max; "
        f"floor page {r['floor']['median_ms']} ms; ratio {r['ratio']}  (target <= 200 ms)"
    )
    print(
        f"suggest       p50 {t['suggest_p50_ms']} ms, p95 {t['suggest_p95_ms']} ms; /healthz p95 "
        f"{t['healthz_p95_ms']} ms; ratio {t['ratio_p95']}  (target p95 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
