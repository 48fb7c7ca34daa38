"""The operator SIGKILLed in every phase of one release and restarted each time, once per router (the kubernetes
provider's blue/green on Services, and Gateway API's weighted HTTPRoute): the release still ends Succeeded with
the new version on the primary, and no state on the way routed traffic to a Service without a ready pod or left
the primary at zero replicas. `bench/chaos.py` runs each kill point on its own, several times."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.chaos.release import PHASES, describe, run_release
from tests.cluster.controlplane import Cluster
from tests.cluster.crds import install_gateway_api

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("router", ["kubernetes", "gatewayapi:v1"])
def test_a_release_survives_a_kill_in_every_phase(cluster: Cluster, router: str, tmp_path: Path) -> None:
    """Five SIGKILLs (Initializing, Progressing, WaitingPromotion, Promoting, Finalising), five restarts: the
    release ends Succeeded, promoted, and was safe in every state etcd recorded."""
    cluster.install_serinus_crds()
    if router != "kubernetes":
        install_gateway_api(cluster)
    outcome = run_release(cluster, router, PHASES, tmp_path)
    assert [k.aimed for k in outcome.kills] == list(PHASES), describe(outcome)
    assert outcome.end_phase == "Succeeded", describe(outcome)
    assert outcome.end_problems == [], describe(outcome)
    assert outcome.violations == [], describe(outcome)
    assert outcome.states_checked > 50, describe(outcome)
