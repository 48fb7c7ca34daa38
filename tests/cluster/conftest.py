"""The `cluster` fixture: one real control plane per test session (see tests/cluster/README.md)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import Cluster, ControlPlane, ControlPlaneError, build_binaries


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/cluster as a cluster test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A running etcd + kube-apiserver + controller-manager + scheduler + kwok with two Ready fake nodes."""
    workdir = Path(tempfile.mkdtemp(prefix="serinus-cluster-"))
    plane: ControlPlane | None = None
    try:
        try:
            bin_dir = build_binaries(workdir / "build.log")
            plane = ControlPlane(workdir=workdir, bin_dir=bin_dir, nodes=2)
            plane.start()
        except ControlPlaneError as err:
            pytest.fail(f"the test control plane is not available: {err}", pytrace=False)
        (workdir / "timings.json").write_text(json.dumps(plane.timings, indent=2))
        old = os.environ.get("KUBECONFIG")
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        try:
            yield Cluster(plane)
        finally:
            if old is None:
                os.environ.pop("KUBECONFIG", None)
            else:
                os.environ["KUBECONFIG"] = old
    finally:
        if plane is not None:
            plane.stop()
        if os.environ.get("SERINUS_KEEP_CLUSTER_DIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


# Real Prometheus scraping the scenario exporter, for end-to-end releases judged by metrics.
from tests.integration.conftest import exporter, prometheus  # noqa: E402, F401
