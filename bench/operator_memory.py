"""Benchmark: the resident memory of `serinus run` in a cluster full of Secrets it has no use for.

Starts the real control plane of tests/cluster and Serinus's CRDs, then measures a cluster-wide `serinus run` (the
chart's default install, with the chart's ServiceAccount) RUNS times on a cluster without extra Secrets, creates
SECRETS Secrets of SIZE KiB each (shaped like Helm release Secrets: type `helm.sh/release.v1`, `owner: helm`,
one random `release` key) that no Canary references, and measures RUNS more operators; while each of those runs,
one of the Secrets is relabelled every 2 s from a third of the window on (as Helm marks old releases superseded),
so the watches see events. Each operator process is sampled from /proc every 0.2 s for SECONDS: the peak is the
kernel's high-water mark (VmHWM), the steady figure the median VmRSS over the last third of the window. Prints the
medians over the runs as JSON, and any warning or error the operators logged.
Run: `.venv/bin/python -m bench.operator_memory [RUNS] [--secrets N] [--size KIB] [--seconds S]`
(defaults: 3 runs, 1000 Secrets of 100 KiB, 60 s).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret
from lightkube.types import PatchType
from tests.cluster.controlplane import ROOT, Cluster, ControlPlane, build_binaries, free_port

import serinus.kube.resources  # noqa: F401  (registers Canary & co. with lightkube, for the CRD check)

NOISE_NAMESPACE = "bench-unrelated-secrets"
SAMPLE_S = 0.2
TOUCH_S = 2.0


def _status_kib(pid: int, field: str) -> int:
    """One `Vm*` field of /proc/<pid>/status, in KiB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure_operator(
    cluster: Cluster, seconds: float, log: Path, touch: Callable[[int], None] | None = None
) -> dict[str, float]:
    """Run one cluster-wide `serinus run` for `seconds`, calling `touch(n)` every TOUCH_S after the first third
    (the Secrets change while it watches); its peak and steady RSS in MiB."""
    args = [
        sys.executable,
        "-m",
        "serinus.cli",
        "run",
        f"--kubeconfig={cluster.operator_kubeconfig()}",
        "--mesh-provider=kubernetes",
        f"--metrics-server=http://127.0.0.1:{free_port()}",
        f"--port={free_port()}",
        "--listen-address=127.0.0.1",
        "--log-level=info",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    touches = 0
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            if proc.poll() is not None:
                raise RuntimeError(f"serinus run exited with {proc.returncode}; see {log}")
            samples.append((elapsed, _status_kib(proc.pid, "VmRSS")))
            if touch is not None and elapsed >= seconds / 3 + touches * TOUCH_S:
                touch(touches)
                touches += 1
            time.sleep(SAMPLE_S)
        peak = _status_kib(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    steady = [kib for at, kib in samples if at >= seconds * 2 / 3]
    return {"peak_mib": peak / 1024, "steady_mib": statistics.median(steady) / 1024}


def log_problems(log: Path) -> list[str]:
    """Distinct warning and error messages of the operator log, but the expected one: no Prometheus here."""
    seen: list[str] = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("msg", ""))
        if record.get("level") in ("warning", "error") and "Metrics server" not in message and message not in seen:
            seen.append(message)
    return seen


def relabel(client: Client, count: int) -> Callable[[int], None]:
    """A `touch` that marks the n-th unrelated Secret superseded, as Helm does to a release's previous Secret."""

    def touch(n: int) -> None:
        if count:
            name = f"sh.helm.release.v1.app-{n % count}.v1"
            patch = {"metadata": {"labels": {"status": f"superseded-{n}"}}}
            client.patch(Secret, name, patch, namespace=NOISE_NAMESPACE, patch_type=PatchType.MERGE)

    return touch


def create_unrelated_secrets(client: Client, count: int, size_kib: int) -> float:
    """`count` Helm-release-like Secrets of `size_kib` KiB of random data; returns the seconds it took."""
    started = time.monotonic()
    client.create(Namespace(metadata=ObjectMeta(name=NOISE_NAMESPACE)))
    for i in range(count):
        client.create(
            Secret(
                metadata=ObjectMeta(
                    name=f"sh.helm.release.v1.app-{i}.v1",
                    namespace=NOISE_NAMESPACE,
                    labels={"owner": "helm", "name": f"app-{i}", "status": "deployed", "version": "1"},
                ),
                type="helm.sh/release.v1",
                data={"release": base64.b64encode(os.urandom(size_kib * 1024)).decode()},
            ),
            namespace=NOISE_NAMESPACE,
        )
    return time.monotonic() - started


def _medians(runs: list[dict[str, float]]) -> dict[str, object]:
    return {
        "peak_mib": round(statistics.median(r["peak_mib"] for r in runs), 1),
        "steady_mib": round(statistics.median(r["steady_mib"] for r in runs), 1),
        "runs": [{k: round(v, 1) for k, v in r.items()} for r in runs],
    }


def main(runs: int, secrets: int, size_kib: int, seconds: float) -> dict[str, object]:
    """Measure `runs` operators without, then with, the unrelated Secrets; return the medians."""
    workdir = Path(tempfile.mkdtemp(prefix="serinus-bench-memory-"))
    plane = ControlPlane(workdir=workdir, bin_dir=build_binaries(workdir / "build.log"))
    try:
        plane.start()
        cluster = Cluster(plane)
        cluster.install_serinus_crds()
        log = workdir / "operator.log"
        empty = [measure_operator(cluster, seconds, log) for _ in range(runs)]
        client = cluster.client()
        created_s = create_unrelated_secrets(client, secrets, size_kib)
        loaded = [measure_operator(cluster, seconds, log, relabel(client, secrets)) for _ in range(runs)]
        return {
            "log_problems": log_problems(log),  # a refused or failing watch would show here
            "runs": runs,
            "seconds_per_run": seconds,
            "unrelated_secrets": {"count": secrets, "size_kib": size_kib, "created_in_s": round(created_s, 1)},
            "without_secrets": _medians(empty),
            "with_secrets": _medians(loaded),
        }
    finally:
        plane.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=3)
    parser.add_argument("--secrets", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100, help="KiB of data per Secret")
    parser.add_argument("--seconds", type=float, default=60.0)
    opts = parser.parse_args()
    print(json.dumps(main(opts.runs, opts.secrets, opts.size, opts.seconds), indent=2))
