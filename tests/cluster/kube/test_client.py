"""Start-up checks say plainly what is wrong: missing CRDs, an unreachable API server."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import yaml
from lightkube import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from serinus.kube.client import ClusterUnavailable, check_crds, connect
from tests.cluster.controlplane import Cluster
from tests.cluster.waiting import wait_for

NAMES = ("canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app")


def _gone(cluster: Cluster, name: str) -> bool:
    try:
        cluster.client().get(CustomResourceDefinition, name)
    except ApiError as err:
        return err.status.code == 404
    return False


async def test_missing_crds_are_named_and_installed_ones_pass(cluster: Cluster) -> None:
    """Without the CRDs the check says 'Canary CRD is not registered'; once installed it passes."""
    admin = cluster.client()
    for name in NAMES:
        if not _gone(cluster, name):
            admin.delete(CustomResourceDefinition, name)
    for name in NAMES:
        wait_for(partial(_gone, cluster, name), f"{name} deleted", timeout=60)
    client = connect(str(cluster.kubeconfig))
    try:
        with pytest.raises(ClusterUnavailable, match="Canary CRD is not registered: install the CRDs first"):
            await check_crds(client)
        cluster.install_flagger_crds(timeout=60)
        await check_crds(client)
    finally:
        await client.close()


async def test_unreachable_api_server_is_reported(tmp_path: Path, cluster: Cluster) -> None:
    """A kubeconfig pointing at a closed port gives 'cannot reach the Kubernetes API server'."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    broken = tmp_path / "kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    client = connect(str(broken))
    try:
        with pytest.raises(ClusterUnavailable, match="cannot reach the Kubernetes API server"):
            await check_crds(client)
    finally:
        await client.close()


def test_missing_kubeconfig_is_reported(tmp_path: Path) -> None:
    """A kubeconfig path that does not exist is a one-line error naming the path."""
    with pytest.raises(ClusterUnavailable, match=f"cannot load Kubernetes credentials from {tmp_path}/nope"):
        connect(str(tmp_path / "nope"))
