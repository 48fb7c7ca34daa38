"""`scripts/demo`: Serinus on a real one-node cluster on this machine, releasing podinfo through Traefik with real
requests, with progress as it goes and a summary at the end; everything is torn down afterwards."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lightkube import codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.node import podinfo
from tests.node.edge import start_edge
from tests.node.installed import install, uninstall
from tests.node.podinfo import Canary, IngressRoute
from tests.node.realnode import NodeError, RealNode, build_artifacts
from tests.node.traffic import Traffic

NS = "demo"


T0 = time.monotonic()


def say(text: str) -> None:
    """One line of progress, with the time since the start."""
    print(f"[{time.monotonic() - T0:6.1f}s] {text}", flush=True)


def run(failing: bool, log_dir: Path) -> int:
    """Bring the node up, install Serinus, release podinfo v2 (a failing one with --failing), print a summary."""
    say("checking the node binaries and images (scripts/build-node-binaries; cached after the first run)")
    artifacts = build_artifacts(log_dir / "serinus-demo-build.log")
    node = RealNode(artifacts=artifacts)
    node.acquire()
    try:
        say("starting a real node: containerd, a CNI bridge, the control plane, kubelet, kube-proxy")
        node.start()
        say(f"node Ready at {node.node_ip}; starting Traefik and Prometheus on it")
        edge = start_edge(node)
        say("helm install serinus and serinus-loadtester from the image built from ./Dockerfile")
        installed = install(
            node,
            artifacts.image("serinus"),
            "--set",
            "meshProvider=traefik",
            "--set",
            f"metricsServer={edge.prometheus}",
        )
        admin = node.client()
        admin.create(Namespace(metadata=ObjectMeta(name=NS)))
        client = node.client(namespace=NS)
        client.create(codecs.from_dict(podinfo.deployment(NS, artifacts.image("podinfo"), "v1")))
        client.create(Canary.from_dict(podinfo.traefik_canary(NS, edge.web, installed.loadtester_url())))
        client.create(IngressRoute.from_dict(podinfo.ingress_route(NS)))
        say("podinfo v1 deployed with a Canary (provider traefik); waiting for Serinus to initialize it")
        _wait(lambda: podinfo.phase(client) == "Initialized", 120)
        traffic = Traffic(f"{edge.web}/", host=f"{NS}.test", workers=2, pause=0.02)
        with traffic.flowing(weight=lambda: int(podinfo.status(client).get("canaryWeight") or 0)):
            env = [{"name": "PODINFO_RANDOM_ERROR", "value": "true"}] if failing else None
            say(f"releasing podinfo v2{' (answering 5xx at random)' if failing else ''}; requests flow through Traefik")
            podinfo.new_version(client, "v2", env)
            seen: set[str] = set()
            last, printed = "", 0.0
            deadline = time.monotonic() + 400
            while time.monotonic() < deadline:
                status = podinfo.status(client)
                phase = str(status.get("phase") or "")
                state = f"phase {phase:<12} canary weight {int(status.get('canaryWeight') or 0):>3}%"
                if state != last or time.monotonic() - printed > 10:  # on each change, else every 10 s
                    share = Counter(traffic.between(time.time() - 3, time.time()))
                    errors = sum(n for t, n in share.items() if t.startswith("error"))
                    say(f"{state}  answers in the last 3 s: v1 {share['v1']:>4}, v2 {share['v2']:>4}, errors {errors}")
                    last, printed = state, time.monotonic()
                for event in podinfo.events(client):
                    if event not in seen:
                        seen.add(event)
                        say(f"  event: {event}")
                if phase in ("Succeeded", "Failed"):
                    break
                time.sleep(2)
        print("\nSummary")
        print(f"  result: {podinfo.phase(client)} (expected {'Failed' if failing else 'Succeeded'})")
        print("  canary weight  answers from v2  answers")
        for weight, share_pct, count in traffic.shares("v2"):
            if 0 < weight < 100:  # the steps of the analysis (before and after it the weight reads 0)
                print(f"  {weight:>12}%  {share_pct:>14.1f}%  {count:>7}")
        print(f"  the run took {time.monotonic() - T0:.0f} s; cleaning up")
        uninstall(node)
        ok = podinfo.phase(client) == ("Failed" if failing else "Succeeded")
        return 0 if ok else 1
    finally:
        node.stop()
        node.release()
        say("node stopped; the host is as it was")


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise NodeError(f"gave up after {timeout:.0f}s")
        time.sleep(1)


def main() -> None:
    """Entry point of scripts/demo."""
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--failing", action="store_true", help="release a version that fails, to see a rollback")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the build log goes")
    args = parser.parse_args()
    try:
        sys.exit(run(args.failing, args.log_dir))
    except NodeError as err:
        print(f"the demo could not run: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
