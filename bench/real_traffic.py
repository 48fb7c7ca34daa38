"""Benchmark: Serinus against Flagger on the real node, with real requests through Traefik.

Brings up the node of tests/node (containerd, kubelet, kube-proxy, its control plane), Traefik and Prometheus on
it, Serinus and its load tester by their Helm charts from the image built from the Dockerfile, then, as
tests/node/test_flagger_beside.py does, two namespaces side by side: Serinus's chart Pod scoped to one, Flagger 1.44
(a host process, `-mesh-provider=traefik`) to the other, each with Flagger's Traefik tutorial Canary (interval 15 s,
step 10 % to 50 %, threshold 2) and requests flowing through Traefik. Each of RUNS rounds releases, at the same
moment in both namespaces, a healthy version and then a failing one (podinfo's PODINFO_RANDOM_ERROR), and prints per
system the median of:

- seconds from the Deployment change to phase Succeeded (healthy version);
- seconds from the Deployment change to phase Failed (failing version);
- requests Traefik sent to the failing canary between the change and Failed (the increase of its counter in
  Prometheus: the host's requests and the load tester's `hey` alike), and how many of the host's requests the
  failing canary answered without an error in that time,

with the Serinus/Flagger ratios. Needs root and the node's binaries (see tests/node/README.md).
Run: `.venv/bin/python -m bench.real_traffic --runs N` (default 3).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from tests.node.beside import Release, release_both, side_by_side
from tests.node.edge import start_edge
from tests.node.installed import install, uninstall
from tests.node.realnode import RealNode, build_artifacts

BAD = [{"name": "PODINFO_RANDOM_ERROR", "value": "true"}]
T0 = time.monotonic()


def _say(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {text}", file=sys.stderr, flush=True)


def _checked(found: dict[str, Release], want: str) -> dict[str, Release]:
    for release in found.values():
        if release.error or release.phase != want:
            events = "\n  ".join(release.events)
            raise SystemExit(f"{release.system}: {release.error or release.phase!r} instead of {want}:\n  {events}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.real_traffic", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of one healthy and one failing release")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the build log goes")
    args = parser.parse_args(argv)
    _say("scripts/build-node-binaries (cached after the first run)")
    artifacts = build_artifacts(args.log_dir / "serinus-bench-real-traffic-build.log")
    node = RealNode(artifacts=artifacts)
    node.acquire()
    samples: dict[str, dict[str, list[float]]] = {
        s: {"succeeded": [], "failed": [], "requests": [], "answers": []} for s in ("serinus", "flagger")
    }
    try:
        node.start()
        edge = start_edge(node)
        _say("helm install serinus and serinus-loadtester")
        installed = install(
            node, artifacts.image("serinus"), "--set", "meshProvider=kubernetes", "--set",
            f"metricsServer={edge.prometheus}",
        )  # fmt: skip
        with side_by_side(node, edge, installed, prefix="bench") as pair:
            for run in range(1, args.runs + 1):
                good = _checked(release_both(pair, f"good-{run}", "Succeeded"), "Succeeded")
                bad = _checked(release_both(pair, f"bad-{run}", "Failed", BAD), "Failed")
                for system in samples:
                    samples[system]["succeeded"].append(good[system].seconds)
                    samples[system]["failed"].append(bad[system].seconds)
                    samples[system]["requests"].append(bad[system].canary_requests)
                    samples[system]["answers"].append(float(bad[system].canary_answers))
                _say(
                    f"run {run}: "
                    + "; ".join(
                        f"{s} Succeeded {good[s].seconds:.1f} s, Failed {bad[s].seconds:.1f} s, "
                        f"{bad[s].canary_requests:.0f} requests to the failing canary "
                        f"({bad[s].canary_answers} host answers from it)"
                        for s in samples
                    )
                )
        uninstall(node)
    finally:
        try:
            node.stop()
        finally:
            node.release()
    rows = [
        ("change to Succeeded (s)", "succeeded"),
        ("change of a failing version to Failed (s)", "failed"),
        ("requests Traefik sent to the failing canary (all clients)", "requests"),
        ("of the host's requests, answered by the failing canary (not 5xx)", "answers"),
    ]
    print(f"median over {args.runs} runs | Serinus | Flagger | Serinus/Flagger")
    print("--- | --- | --- | ---")
    for label, key in rows:
        ours, theirs = statistics.median(samples["serinus"][key]), statistics.median(samples["flagger"][key])
        ratio = f"{ours / theirs:.2f}" if theirs else "n/a"
        print(f"{label} | {ours:.1f} | {theirs:.1f} | {ratio}")
    for system, values in samples.items():
        print(f"{system} per run: " + ", ".join(f"{k}={[round(v, 1) for v in vs]}" for k, vs in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
