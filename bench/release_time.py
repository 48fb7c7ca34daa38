"""Benchmark: how long a healthy release takes, Serinus against Flagger, on the real test control plane.

Starts the control plane of tests/cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok), Flagger's
CRDs, and for each of RUNS rounds two namespaces side by side: one watched by `serinus run`, one by Flagger
(built from its Go module by scripts/build-test-binaries). In each, the same Deployment and the same Canary
(kubernetes provider, blue/green with 5 iterations, interval 10 s) are initialized; then the image changes and
the Canary's phase is polled every 100 ms until Succeeded. Prints, per system, the median time from the image
change to each phase and to Succeeded, and that time divided by the theoretical minimum (5 x 10 s).
Run: `.venv/bin/python -m bench.release_time [RUNS]` (default 3).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from lightkube import Client, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace
from tests.cluster.controlplane import Cluster, ControlPlane, build_binaries, free_port
from tests.cluster.runtime import operator_proc as op

from serinus.kube.resources import Canary

STEPS, INTERVAL_S = 5, 10
PHASES = ("Progressing", "Promoting", "Finalising", "Succeeded")


def _flagger(cluster: Cluster, ns: str, log: Path) -> subprocess.Popen[bytes]:
    binary = Path(cluster.plane.bin_dir) / "flagger"
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(binary),
                f"-kubeconfig={cluster.kubeconfig}",
                f"-namespace={ns}",
                "-mesh-provider=kubernetes",
                f"-metrics-server=http://127.0.0.1:{free_port()}",
                f"-port={free_port()}",
                "-log-level=info",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _release(cluster: Cluster, system: str, workdir: Path, out: dict[str, float]) -> None:
    """One release in a namespace of its own; fills `out` with seconds from the image change to each phase."""
    ns = f"{system}-{uuid.uuid4().hex[:6]}"
    cluster.client().create(Namespace(metadata=ObjectMeta(name=ns)))
    client: Client = cluster.client(namespace=ns)
    log = workdir / f"{ns}.log"
    proc = op.start(cluster, ns, log) if system == "serinus" else _flagger(cluster, ns, log)
    try:
        client.create(codecs.from_dict(op.deployment(ns, "ghcr.io/example/web:1.0")))
        client.create(
            Canary.from_dict(
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "metadata": {"name": "web", "namespace": ns},
                    "spec": {
                        "provider": "kubernetes",
                        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                        "service": {"port": 80, "targetPort": 8080},
                        "analysis": {"interval": f"{INTERVAL_S}s", "threshold": 2, "iterations": STEPS},
                    },
                }
            )
        )
        deadline = time.monotonic() + 180
        while op.phase(client) != "Initialized":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{system} did not initialize (log: {log})")
            time.sleep(0.2)
        time.sleep(2)  # let the initialization settle, as a user would not release in the same second
        client.patch(
            Deployment,
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "ghcr.io/example/web:2.0"}]}}}},
        )
        began = time.monotonic()
        deadline = began + 300
        while "Succeeded" not in out:
            phase = op.phase(client)
            if phase in PHASES and phase not in out:
                out[phase] = time.monotonic() - began
            if phase == "Failed" or time.monotonic() > deadline:
                raise RuntimeError(f"{system} release ended {phase} (log: {log})")
            time.sleep(0.1)
    finally:
        op.stop(proc)


def main(runs: int) -> None:
    """Run the benchmark and print its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="serinus-bench-release-"))
    plane = ControlPlane(workdir=workdir, bin_dir=build_binaries(workdir / "build.log"), nodes=2)
    plane.start()
    try:
        cluster = Cluster(plane)
        cluster.install_flagger_crds()
        results: dict[str, list[dict[str, float]]] = {"serinus": [], "flagger": []}
        for _ in range(runs):
            found: dict[str, dict[str, float]] = {"serinus": {}, "flagger": {}}
            op.warm_up_decoders()
            threads = [
                threading.Thread(target=_release, args=(cluster, system, workdir, found[system])) for system in found
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for system, phases in found.items():
                if "Succeeded" not in phases:
                    raise SystemExit(f"{system} did not finish; logs in {workdir}")
                results[system].append(phases)
        minimum = STEPS * INTERVAL_S
        print(
            f"healthy blue/green release, {STEPS} iterations at {INTERVAL_S}s (theoretical minimum {minimum}s), "
            f"median of {runs} runs; seconds from the image change:"
        )
        print(f"{'system':<8} " + " ".join(f"{p:>12}" for p in PHASES) + "  ratio")
        medians: dict[str, float] = {}
        for system, runs_ in results.items():
            cells = []
            for p in PHASES:
                values = [r[p] for r in runs_ if p in r]
                cells.append(f"{statistics.median(values):>12.1f}" if values else f"{'-':>12}")
            medians[system] = statistics.median(r["Succeeded"] for r in runs_)
            print(f"{system:<8} " + " ".join(cells) + f"  {medians[system] / minimum:.2f}")
        print(f"Serinus / Flagger: {medians['serinus'] / medians['flagger']:.2f}")
    finally:
        plane.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
