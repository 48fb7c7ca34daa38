"""Benchmark: how long the test control plane takes to start, and what it holds in memory.

Starts the real control plane of tests/cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok with two fake nodes) RUNS times, and prints the median seconds to apiserver /readyz, to two Ready nodes,
and to a fully usable cluster (default ServiceAccount exists), plus the median resident memory of each
component once Ready. Run: `.venv/bin/python -m bench.cluster_startup [RUNS]` (default 3).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from tests.cluster.controlplane import ControlPlane, build_binaries


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(runs: int) -> dict[str, object]:
    """Start and stop the control plane `runs` times; return the medians."""
    timings: dict[str, list[float]] = {}
    memory: dict[str, list[float]] = {}
    for _ in range(runs):
        workdir = Path(tempfile.mkdtemp(prefix="serinus-bench-cluster-"))
        plane = ControlPlane(workdir=workdir, bin_dir=build_binaries(workdir / "build.log"))
        try:
            plane.start()
            for key, value in plane.timings.items():
                timings.setdefault(key, []).append(value)
            for proc in plane.processes:
                memory.setdefault(proc.name, []).append(rss_mib(proc.popen.pid))
        finally:
            plane.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "runs": runs,
        "median_seconds": {k: round(statistics.median(v), 2) for k, v in timings.items()},
        "median_rss_mib": {k: round(statistics.median(v), 1) for k, v in memory.items()},
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
