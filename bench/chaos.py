"""Chaos runs: the operator SIGKILLed at one point of a release and restarted, RUNS times per kill point and router.

Starts the real control plane of tests/cluster once, installs Serinus's and Gateway API's CRDs, then for each
router (the kubernetes provider's blue/green on Services, Gateway API's weighted HTTPRoute) and each kill point
(the phases Initializing, Progressing, WaitingPromotion, Promoting and Finalising, and PrimaryUpdated and
CanaryScaledDown between a write and its status update; tests/cluster/chaos/release.py says the exact moment of
each) runs RUNS releases in fresh namespaces, each with that single kill. A run is right when the release ends
Succeeded with the new version on the primary, the canary at zero and the route back on the primary, and no
state etcd recorded on the way sent traffic to a Service without a ready pod or left the primary at zero
replicas. Prints a Markdown table (the one in docs/reliability.md) and, with --json, every outcome.

Run: `.venv/bin/python -m bench.chaos [--runs N] [--routers kubernetes,gatewayapi:v1] [--points P,...]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from tests.cluster.chaos.release import BETWEEN, PHASES, ROUTERS, Outcome, describe, run_release
from tests.cluster.controlplane import Cluster, ControlPlane, build_binaries
from tests.cluster.crds import install_gateway_api


def table(results: dict[tuple[str, str], list[Outcome]]) -> str:
    """The Markdown table: one row per router and kill point."""
    rows = [
        "| router | kill point | runs | right end state | kill landed where aimed | unsafe states | median s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (router, point), outcomes in results.items():
        # a phase kill point is hit when the status still showed that phase after the kill; a kill point between
        # a write and its status update when the status was still behind the write
        hit = sum(1 for o in outcomes for k in o.kills if (k.landed == k.aimed if k.between is None else k.between))
        rows.append(
            f"| {router} | {point} | {len(outcomes)} | {sum(o.right for o in outcomes)} | {hit} | "
            f"{sum(len(o.violations) for o in outcomes)} | {statistics.median(o.seconds for o in outcomes):.0f} |"
        )
    return "\n".join(rows)


def main(runs: int, routers: list[str], points: list[str], keep: bool) -> tuple[str, list[Outcome]]:
    """Start a control plane, run every scenario `runs` times, stop it; the table and every outcome."""
    workdir = Path(tempfile.mkdtemp(prefix="serinus-bench-chaos-"))
    plane = ControlPlane(workdir=workdir, bin_dir=build_binaries(workdir / "build.log"))
    results: dict[tuple[str, str], list[Outcome]] = {}
    try:
        plane.start()
        cluster = Cluster(plane)
        cluster.install_serinus_crds()
        install_gateway_api(cluster)
        for router in routers:
            for point in points:
                for i in range(runs):
                    outcome = run_release(cluster, router, (point,), workdir / "logs" / "operators")
                    results.setdefault((router, point), []).append(outcome)
                    verdict = "right" if outcome.right else "WRONG"
                    print(f"{router} {point} run {i + 1}: {verdict}: {describe(outcome)}", file=sys.stderr)
    finally:
        plane.stop()
        if keep:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return table(results), [o for outcomes in results.values() for o in outcomes]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--routers", default=",".join(ROUTERS))
    parser.add_argument("--points", default=",".join(PHASES + BETWEEN), help="kill points, comma-separated")
    parser.add_argument("--json", action="store_true", help="also print every outcome as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the control plane's and operators' logs")
    args = parser.parse_args()
    text, outcomes = main(args.runs, args.routers.split(","), args.points.split(","), args.keep)
    print(text)
    if args.json:
        print(json.dumps([asdict(o) for o in outcomes], indent=2, default=str))
