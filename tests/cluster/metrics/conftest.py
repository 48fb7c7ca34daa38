"""Keptn's CRDs (hand-written: see keptn-crds.yaml) for the keptn provider's tests."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from serinus.metrics import keptn
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import apply_crds, crd_documents
from tests.cluster.waiting import wait_for

NAMESPACE = "serinus-keptn"


@pytest.fixture(scope="session")
def keptn_crds(cluster: Cluster) -> None:
    """Keptn's CRDs installed and a namespace for their objects."""
    apply_crds(cluster, crd_documents([Path(__file__).with_name("keptn-crds.yaml")]))
    client = cluster.client()
    with contextlib.suppress(ApiError):
        client.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))

    def served() -> bool:  # Established comes before the storage of a new CRD answers lists
        try:
            for kind in (keptn.keptn_metric(), keptn.analysis()):
                list(client.list(kind, namespace=NAMESPACE))
            return True
        except ApiError:
            return False

    wait_for(served, "Keptn's resources served", timeout=60)
