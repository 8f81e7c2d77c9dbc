"""Warm HTTP invoke latency of ``keepwarm serve`` vs a bare ASGI echo on the same uvicorn stack.

Target (design §4): p50 ≤ 2x the echo. Both servers run at once and are measured in alternating
batches over keep-alive ``http.client`` connections, so they share the machine's noise; the
no-op handler is the one every benchmark uses. Run: ``.venv/bin/python -m bench.http_bench``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import time
from pathlib import Path
from typing import Any

from bench import http_floor, serve_bench
from bench.common import summary

RESULTS = Path(__file__).parent / "results" / "http.json"


def _batch(conn: http.client.HTTPConnection, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        conn.request(
            "POST", http_floor.INVOKE_PATH, body=b"{}", headers={"content-type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter_ns() - t) / 1e6)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return out


def measure(rounds: int, batch: int) -> dict[str, Any]:
    with serve_bench.keepwarm_server() as kw_port, http_floor.echo_server() as echo_port:
        kw = http.client.HTTPConnection("127.0.0.1", kw_port)
        echo = http.client.HTTPConnection("127.0.0.1", echo_port)
        http_floor.wait_port(kw_port)
        deadline = time.monotonic() + 60
        while True:  # the server accepts before its backend is up: poll until it answers
            try:
                _batch(kw, 1)
                break
            except (RuntimeError, OSError):
                kw = http.client.HTTPConnection("127.0.0.1", kw_port)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        _batch(kw, 200)  # cold start and warm-up off the clock
        _batch(echo, 200)
        kw_ms: list[float] = []
        echo_ms: list[float] = []
        for _ in range(rounds):
            kw_ms += _batch(kw, batch)
            echo_ms += _batch(echo, batch)
    k, e = summary(kw_ms), summary(echo_ms)
    return {
        "keepwarm_invoke": k,
        "asgi_echo": e,
        "ratio_median": k["median_ms"] / e["median_ms"],
        "ratio_p99": k["p99_ms"] / e["p99_ms"],
        "python": platform.python_version(),
    }


def table(result: dict[str, Any]) -> str:
    k, e = result["keepwarm_invoke"], result["asgi_echo"]
    return "\n".join(
        [
            "| endpoint | median | p99 | n |",
            "|---|---|---|---|",
            f"| bare ASGI echo (uvicorn + httptools) | {e['median_ms'] * 1000:.0f} µs | "
            f"{e['p99_ms'] * 1000:.0f} µs | {e['n']} |",
            f"| keepwarm Invoke, warm no-op | {k['median_ms'] * 1000:.0f} µs | "
            f"{k['p99_ms'] * 1000:.0f} µs | {k['n']} |",
            f"| ratio | {result['ratio_median']:.2f}x | {result['ratio_p99']:.2f}x | |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    result = measure(args.rounds, args.batch)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


if __name__ == "__main__":
    main()
