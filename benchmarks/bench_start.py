"""Benchmark how long ``cxplay serve`` takes to start: from the process's spawn to /healthz.

Three starts of the shipped playbooks, each a fresh process (``--no-auth --no-watch``):

* ``cold``  -- with an empty validation cache (``CXPLAY_CACHE_DIR`` in a scratch
  directory): the full validation runs, as on the first start after a change;
* ``warm``  -- the same files again: the reply checks' verdict is remembered;
* ``base``  -- the baseline in the same run: ``python -c "import cxplay._serve"``, the
  imports alone, which no start can beat.

Each is repeated ``--runs`` times (median reported); figures are seconds and ratios to
``base``, with the load average before and after. ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_start(env: dict[str, str]) -> float:
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "cxplay", "serve", "--no-auth", "--no-watch", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    raise SystemExit("cxplay serve exited before it answered") from None
                time.sleep(0.02)
    finally:
        process.terminate()
        process.wait(10)


def _imports(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import cxplay._serve"], check=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    cache = Path(tempfile.mkdtemp(prefix="cxplay-bench-start-"))
    env = {k: v for k, v in os.environ.items() if k != "CXPLAY_PLAYBOOKS"}
    env["CXPLAY_CACHE_DIR"] = str(cache)
    try:
        base, cold, warm = [], [], []
        for _ in range(args.runs):
            base.append(_imports(env))
            shutil.rmtree(cache / "validated", ignore_errors=True)
            cold.append(_serve_start(env))
            warm.append(_serve_start(env))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    figures = {
        name: statistics.median(v) for name, v in (("base", base), ("cold", cold), ("warm", warm))
    }
    result = {
        **{f"{k}_s": round(v, 2) for k, v in figures.items()},
        "cold_ratio": round(figures["cold"] / figures["base"], 1),
        "warm_ratio": round(figures["warm"] / figures["base"], 1),
        "runs": args.runs,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"imports (base)  {figures['base']:.2f} s")
    print(f"cold start      {figures['cold']:.2f} s  ({result['cold_ratio']}x base)")
    print(f"warm start      {figures['warm']:.2f} s  ({result['warm_ratio']}x base)")
    print(f"load average    {result['load_before']} -> {result['load_after']}")


if __name__ == "__main__":
    main()
