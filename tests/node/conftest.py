"""The `node` fixture: one real Kubernetes node per test session (see tests/node/README.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlaneError, build_binaries
from tests.node.edge import Edge, start_edge
from tests.node.installed import Installed, install, uninstall
from tests.node.realnode import NODE_DIR, NodeError, RealNode, build_artifacts

#: beside the node directory, not in it: the node's cleanup deletes that directory.
BUILD_LOG = NODE_DIR.parent / f"{NODE_DIR.name}-build.log"
TIMINGS = NODE_DIR.parent / f"{NODE_DIR.name}-timings.json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/node as a node test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.node)


@pytest.fixture(scope="session")
def node() -> Iterator[RealNode]:
    """A Ready real node (containerd, CNI bridge, kubelet, kube-proxy) beside its own control plane.

    Anything a crashed earlier run left is cleaned first; on exit every process, chain, mount, bridge and cgroup
    is removed and the sysctls are restored, and leftovers fail the session's last test."""
    try:
        build_binaries(BUILD_LOG.with_name(f"{NODE_DIR.name}-control-plane-build.log"))
        artifacts = build_artifacts(BUILD_LOG)
    except (ControlPlaneError, NodeError) as err:
        pytest.fail(f"the real node is not available: {err}", pytrace=False)
    real = RealNode(artifacts=artifacts, keep_logs=os.environ.get("SERINUS_KEEP_NODE_DIR") == "1")
    try:
        real.acquire()
        # Again under the lock: while this session queued, another one may have built an image of a newer tree,
        # which deletes the older tarball this session would import (scripts/build-image keeps only the last).
        real.artifacts = build_artifacts(BUILD_LOG)
    except NodeError as err:
        real.release()
        pytest.fail(f"the real node is not available: {err}", pytrace=False)
    try:
        try:
            real.start()
        except NodeError as err:
            pytest.fail(f"the real node is not available: {err}", pytrace=False)
        yield real
    finally:
        try:
            real.stop()
        finally:
            real.release()
        TIMINGS.write_text(json.dumps({"start": real.timings, "cleanup": real.cleanup_timings}, indent=2))
    left = real.leftovers()
    if left:
        pytest.fail("the node's cleanup left host changes behind:\n" + "\n".join(left), pytrace=False)


@pytest.fixture(scope="session")
def edge(node: RealNode) -> Edge:
    """Traefik and a Prometheus scraping it, on the node IP (stopped with the node)."""
    try:
        return start_edge(node)
    except NodeError as err:
        pytest.fail(f"the node's edge is not available: {err}", pytrace=False)


@pytest.fixture(scope="session")
def serinus(node: RealNode, edge: Edge) -> Iterator[Installed]:
    """Serinus and its load tester, installed by their charts from the image scripts/build-image built, reading
    the edge's Prometheus; uninstalled at the end of the session."""
    installed = install(
        node,
        node.artifacts.image("serinus"),
        "--set",
        "meshProvider=kubernetes",
        "--set",
        f"metricsServer={edge.prometheus}",
    )
    try:
        yield installed
    finally:
        # test_zz_cleanup stops the node before the session ends: then there is nothing left to uninstall.
        if node.plane is not None and node.kubeconfig.exists():
            uninstall(node)
