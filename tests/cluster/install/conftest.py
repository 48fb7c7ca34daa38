"""Fixtures of the install tests."""

from __future__ import annotations

import pytest

from tests.cluster.controlplane import OPERATOR_NAMESPACE, Cluster


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> str:
    """The release namespace helm renders into (it holds the operator's ServiceAccount for the other cluster tests
    too), created for the dry runs."""
    return cluster.ensure_namespace(OPERATOR_NAMESPACE)
