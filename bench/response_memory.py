"""Benchmark: the memory one oversized answer costs the operator, before and after the response size cap.

Serves one SIZE MiB JSON document on 127.0.0.1 (a Prometheus vector of many series: what a query without an
aggregation returns on a big cluster) with three statuses: 200 for a metric query, 400 for a webhook refusal and 500
for an alert receiver's refusal. Each case runs RUNS times, each in a fresh Python process that imports Serinus,
makes the one call and reports its peak resident memory (the kernel's high-water mark, VmHWM) above what it held
before the call. "before" is the code as it was: httpx reading the whole answer (`client.request`, then `.json()`
for the metric query, `.text` for the refusals); "after" is Serinus now, through serinus.net with the default
10 MiB cap, once with the answer's Content-Length announced and once streamed without one (the body ends when the
server closes), so that reading has to stop at the cap. Prints the medians as JSON.
Run: `.venv/bin/python -m bench.response_memory [RUNS] [--size MIB]` (defaults: 3 runs, 50 MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PATHS = {"metric": ("/api/v1/query", 200), "webhook": ("/hook", 400), "alert": ("/alert", 500)}


def _hwm_kib() -> int:
    """This process's peak resident memory so far (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def document(size_mib: int) -> bytes:
    """A Prometheus instant-query answer of about `size_mib` MiB: a vector of many one-sample series."""
    series = '{"metric":{"__name__":"http_requests_total","pod":"podinfo-%08d","code":"200"},"value":[1700000000,"1"]}'
    count = size_mib * 1024 * 1024 // (len(series) + 1)
    result = ",".join(series % i for i in range(count))
    return f'{{"status":"success","data":{{"resultType":"vector","result":[{result}]}}}}'.encode()


async def _before(case: str, url: str) -> str:
    """The call as Serinus made it before: the whole answer read into memory, then decoded."""
    import httpx2

    async with httpx2.AsyncClient(timeout=5.0) as client:
        if case == "metric":
            response = await client.request("GET", url, params={"query": "up"})
            return f"{len(response.json()['data']['result'])} series parsed"
        response = await client.post(url, content=b'{"name":"podinfo"}', headers={"Content-Type": "application/json"})
        text = response.text if case == "webhook" else response.text[:200]
        return f"HTTP {response.status_code}, {len(text)} characters kept"


async def _after(case: str, url: str) -> str:
    """The call as Serinus makes it now."""
    from serinus.errors import SerinusError
    from serinus.hooks.call import call_webhook
    from serinus.metrics.prometheus import PrometheusProvider
    from serinus.notify.http import post_json

    try:
        if case == "metric":
            provider = PrometheusProvider(url.removesuffix("/api/v1/query"))
            try:
                await provider.query("up")
            finally:
                await provider.close()
        elif case == "webhook":
            await call_webhook(url, {"name": "podinfo"})
        else:
            await post_json(url, {"text": "podinfo"})
    except SerinusError as err:
        return str(err)
    return "no error"


def child(mode: str, case: str, url: str) -> None:
    """One measurement, in this fresh process: print the peak memory the call added, in MiB, and its outcome."""
    import httpx2  # noqa: F401  (imported before the baseline, as the operator has it loaded)

    import serinus.hooks.call
    import serinus.metrics.prometheus
    import serinus.notify.http  # noqa: F401

    baseline = _hwm_kib()
    outcome = asyncio.run((_before if mode == "before" else _after)(case, url))
    print(json.dumps({"peak_mib": (_hwm_kib() - baseline) / 1024, "outcome": outcome}))


def serve(body: bytes) -> tuple[str, threading.Event]:
    """The document on 127.0.0.1, from a thread; returns the base URL and an event that stops it."""
    from tests.integration.hostile import response_head
    from tests.integration.receivers import free_port

    port = free_port()
    stop = threading.Event()
    statuses = {path: status for path, status in PATHS.values()}

    async def main() -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode().split("?")[0]
                streamed = path.startswith("/streamed/")  # no Content-Length: the body ends when the server closes
                path = path.removeprefix("/streamed")
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        await reader.readexactly(int(value))
                status = statuses.get(path, 404)
                headers = {"Content-Type": "application/json"}
                if not streamed:
                    headers["Content-Length"] = str(len(body))
                writer.write(response_head(status, headers))
                for start in range(0, len(body), 1 << 16):
                    writer.write(body[start : start + (1 << 16)])
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", port)
        await asyncio.to_thread(stop.wait)
        server.close()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    time.sleep(0.5)
    return f"http://127.0.0.1:{port}", stop


def main() -> None:
    """Measure every case RUNS times and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=3)
    parser.add_argument("--size", type=int, default=50, help="MiB of answer")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CASE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    base, stop = serve(document(args.size))
    results: dict[str, Any] = {"answer_mib": args.size, "runs": args.runs}
    try:
        for case, (path, _) in PATHS.items():
            for mode, prefix in (("before", ""), ("after", ""), ("after, streamed", "/streamed")):
                peaks, outcome = [], ""
                for _ in range(args.runs):
                    out = subprocess.run(
                        [sys.executable, "-m", "bench.response_memory", "--child", mode, case, base + prefix + path],
                        capture_output=True,
                        text=True,
                        check=True,
                        timeout=600,
                    )
                    line = json.loads(out.stdout.strip().splitlines()[-1])
                    peaks.append(line["peak_mib"])
                    outcome = line["outcome"]
                results[f"{case} {mode}"] = {"peak_mib": round(statistics.median(peaks), 1), "outcome": outcome}
    finally:
        stop.set()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
