"""Benchmark: what N Canaries cost `serinus run` (CPU, memory, API requests), on the real test control plane.

Starts the control plane of tests/cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok) with Flagger's
CRDs and a webhook receiver on 127.0.0.1 (a threaded HTTP/1.1 http.server answering 200). In one namespace it
creates N Deployments of one replica (on enough kwok nodes for all their pods) and N Canaries (kubernetes provider,
interval 10 s, iterations 3, one rollout webhook to the receiver), starts `serinus run` for that namespace as a
process (as tests/cluster/runtime/operator_proc.py does, with the Helm chart's ServiceAccount, log level info),
waits until every Canary is Initialized, then changes the image of every Deployment at once and polls the Canaries
(one LIST every second) until all have Succeeded (or Failed: a rolled-back release is counted, not an error).
With every Canary idle again it measures IDLE seconds more. It prints, as JSON:

- seconds from the release to all Succeeded, and that divided by the theoretical minimum (3 x 10 s = 30 s);
- the operator's CPU seconds (utime + stime of /proc/<pid>/stat) during initialization, the release and idling,
  the idle CPU per 10 s for all N and per Canary, and its peak RSS (VmHWM);
- the API requests: the delta of the API server's `apiserver_request_total` over the whole run (every client,
  the harness's own polling and the control plane's controllers included), and the operator's own requests from
  the API server's audit log (it audits ServiceAccount credentials only), by verb and resource.

`--system flagger` runs Flagger (built by scripts/build-test-binaries) instead, for comparison (its requests are
not audited: it uses the admin kubeconfig). `--profile` runs the operator under cProfile and prints the top 25
functions by internal time, and by cumulative time.
Run: `.venv/bin/python -m bench.operator_cost [N] [--idle S] [--profile] [--system serinus|flagger]` (default N=50).
"""

from __future__ import annotations

import argparse
import collections
import http.server
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace
from tests.cluster.controlplane import ROOT, Cluster, ControlPlane, build_binaries
from tests.cluster.runtime import operator_proc as op

from serinus.kube.resources import Canary

INTERVAL_S, ITERATIONS = 10, 3
NAMESPACE = "bench-cost"
TICK_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICK_S


def peak_rss_mib(pid: int) -> float:
    """The kernel's high-water mark of the process's resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def api_requests(plane: ControlPlane) -> int:
    """The sum of `apiserver_request_total` over every label set, read from the API server's /metrics."""
    request = urllib.request.Request(plane.server + "/metrics", headers={"Authorization": f"Bearer {plane.token}"})
    with urllib.request.urlopen(request, context=plane._ssl(), timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def audited(plane: ControlPlane, since: int) -> tuple[int, dict[str, int], int]:
    """The operator's requests in the audit log from byte `since` on: their count, the 12 commonest
    `verb resource[/subresource]`, and the byte offset where the log ends."""
    counts: collections.Counter[str] = collections.Counter()
    with plane.audit_log.open("rb") as log:
        log.seek(since)
        data = log.read()
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("stage") not in ("ResponseComplete", "Panic"):
            continue
        ref = entry.get("objectRef") or {}
        what = ref.get("resource", entry.get("requestURI", "?"))
        if ref.get("subresource"):
            what += "/" + ref["subresource"]
        counts[f"{entry.get('verb')} {what}"] += 1
    return sum(counts.values()), dict(counts.most_common(12)), since + len(data)


class Receiver:
    """The rollout webhook: a threaded HTTP/1.1 server on 127.0.0.1 that answers every POST 200 and counts them.

    Its listen backlog is 1024 (http.server's is 5, which drops the connections of a burst of N Canaries calling
    at once, and the senders then wait seconds to retry their SYN)."""

    def __init__(self) -> None:
        self.calls = 0
        lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Flagger's Go client and a real load tester use it

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    owner.calls += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                return None

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def canary(name: str, hook: str) -> Any:
    """A kubernetes-provider Canary of `name` with Flagger's shortest interval and one rollout webhook."""
    analysis = {
        "interval": f"{INTERVAL_S}s",
        "threshold": 2,
        "iterations": ITERATIONS,
        "webhooks": [{"name": "rollout-check", "type": "rollout", "url": hook, "timeout": "5s"}],
    }
    return op.canary(NAMESPACE, name=name, analysis=analysis)


def phases(client: Client) -> collections.Counter[str]:
    """How many Canaries are in each phase (one LIST)."""
    found: collections.Counter[str] = collections.Counter()
    for item in client.list(Canary, namespace=NAMESPACE):
        found[str(dict(item.get("status") or {}).get("phase") or "")] += 1
    return found


def wait_all(client: Client, want: str, n: int, timeout: float, log: Path) -> tuple[float, int]:
    """Poll every second until all `n` Canaries are in phase `want` or Failed; the seconds it took, and how many
    Failed (a release rolled back)."""
    began = time.monotonic()
    while True:
        found = phases(client)
        if found[want] + found["Failed"] >= n:
            return time.monotonic() - began, found["Failed"]
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"waiting for {n} {want}: {dict(found)} after {timeout:g}s (log: {log})")
        time.sleep(1.0)


def log_warnings(log: Path) -> dict[str, int]:
    """The operator's warning and error messages, counted, with Canary names and addresses blurred together."""
    counts: collections.Counter[str] = collections.Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("level") in ("warning", "error"):
            message = re.sub(r"web-\d+", "web-N", str(record.get("msg", "")))
            counts[re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", message)[:160]] += 1
    return dict(counts.most_common(8))


def start_operator(cluster: Cluster, system: str, log: Path, profile: Path | None) -> subprocess.Popen[bytes]:
    """`serinus run` (or Flagger) for the bench namespace, optionally under cProfile."""
    if system == "flagger":
        return op.start_flagger(cluster, NAMESPACE, log)
    args = op.operator_args(cluster, NAMESPACE, "--log-level=info")
    if profile is not None:
        args = [args[0], "-m", "cProfile", "-o", str(profile), *args[1:]]
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})


def top(profile: Path, n: int = 25) -> dict[str, list[str]]:
    """The `n` costliest functions of a cProfile dump, by internal and by cumulative time."""
    out: dict[str, list[str]] = {}
    for key in ("tottime", "cumulative"):
        stats = pstats.Stats(str(profile))
        total = stats.total_tt  # type: ignore[attr-defined]
        rows = []
        for func in stats.sort_stats(key).fcn_list[:n]:  # type: ignore[attr-defined]
            _, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
            where = f"{Path(func[0]).name}:{func[1]}({func[2]})"
            rows.append(f"{tt:8.2f} {ct:8.2f} {100 * (tt if key == 'tottime' else ct) / total:5.1f}% {nc:>9} {where}")
        out[key] = rows
    return out


def main(n: int, idle_s: float, system: str, profile: bool) -> dict[str, Any]:
    """Run the benchmark once with `n` Canaries; the figures as a dict."""
    workdir = Path(tempfile.mkdtemp(prefix="serinus-bench-cost-"))
    # 110 pods fit on a kwok node; a release runs a primary and a canary pod per Canary at once
    nodes = max(2, -(-3 * n // 100))
    plane = ControlPlane(workdir=workdir, bin_dir=build_binaries(workdir / "build.log"), nodes=nodes)
    receiver = Receiver()
    log = workdir / "operator.log"
    dump = workdir / "operator.prof" if profile else None
    proc: subprocess.Popen[bytes] | None = None
    try:
        plane.start()
        cluster = Cluster(plane)
        cluster.install_flagger_crds()
        cluster.operator_kubeconfig()
        op.warm_up_decoders()
        admin = cluster.client()
        admin.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
        client = cluster.client(namespace=NAMESPACE)
        for i in range(n):
            client.create(
                codecs.from_dict(op.deployment(NAMESPACE, "ghcr.io/example/web:1.0", name=f"web-{i}", replicas=1))
            )
            client.create(canary(f"web-{i}", receiver.url))
        requests_before = api_requests(plane)
        _, _, audit_at = audited(plane, 0)
        started = time.monotonic()
        proc = start_operator(cluster, system, log, dump)
        init_s, _ = wait_all(client, "Initialized", n, 120 + n, log)
        time.sleep(2)  # let the initialization settle, as a user would not release in the same second
        cpu_init = cpu_seconds(proc.pid)
        init_requests, init_top, audit_at = audited(plane, audit_at)
        for i in range(n):
            image = {"spec": {"template": {"spec": {"containers": [{"name": f"web-{i}", "image": "web:2.0"}]}}}}
            client.patch(Deployment, f"web-{i}", image)
        released = time.monotonic()
        release_s, failed = wait_all(client, "Succeeded", n, 300 + 2 * n, log)
        cpu_release = cpu_seconds(proc.pid) - cpu_init
        release_requests, release_top, audit_at = audited(plane, audit_at)
        time.sleep(INTERVAL_S)  # every Canary ticks once more after Succeeded before it is idle
        idle_from, cpu_idle_from = time.monotonic(), cpu_seconds(proc.pid)
        _, _, audit_at = audited(plane, audit_at)
        time.sleep(idle_s)
        cpu_idle = cpu_seconds(proc.pid) - cpu_idle_from
        idle_wall = time.monotonic() - idle_from
        idle_requests, idle_top, audit_at = audited(plane, audit_at)
        result: dict[str, Any] = {
            "system": system,
            "canaries": n,
            "nodes": nodes,
            "initialized_in_s": round(init_s, 1),
            "release_s": round(release_s, 1),
            "release_over_minimum": round(release_s / (INTERVAL_S * ITERATIONS), 2),
            "releases_failed": failed,
            "cpu_s": {
                "initialization": round(cpu_init, 2),
                "release": round(cpu_release, 2),
                "idle_per_10s": round(cpu_idle * 10 / idle_wall, 3),
                "idle_per_10s_per_canary_ms": round(cpu_idle * 10 / idle_wall / n * 1000, 3),
                "total": round(cpu_seconds(proc.pid), 2),
            },
            "peak_rss_mib": round(peak_rss_mib(proc.pid), 1),
            "wall_s": round(time.monotonic() - started, 1),
            "release_wall_s": round(time.monotonic() - released, 1),
            "webhook_calls": receiver.calls,
            "api_requests_total_delta": api_requests(plane) - requests_before,
        }
        if system == "serinus":
            result["operator_requests"] = {
                "initialization": init_requests,
                "release": release_requests,
                "idle_per_10s": round(idle_requests * 10 / idle_wall, 1),
                "top_initialization": init_top,
                "top_release": release_top,
                "top_idle": idle_top,
            }
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        result["log_warnings"] = log_warnings(log)
        if dump is not None and dump.exists():
            result["profile"] = top(dump)
        return result
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        receiver.close()
        plane.stop()
        if os.environ.get("SERINUS_BENCH_KEEP"):
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("canaries", nargs="?", type=int, default=50)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to measure with every Canary idle")
    parser.add_argument("--system", choices=("serinus", "flagger"), default="serinus")
    parser.add_argument("--profile", action="store_true", help="run the operator under cProfile; print the top 25")
    opts = parser.parse_args()
    print(json.dumps(main(opts.canaries, opts.idle, opts.system, opts.profile), indent=2))
