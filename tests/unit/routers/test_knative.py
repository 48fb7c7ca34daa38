"""The knative router: the Knative Service's traffic split between the pinned primary revision and the latest."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.errors import RouterError
from serinus.routers import knative

CANARY = {
    "metadata": {"name": "web", "namespace": "test"},
    "spec": {"targetRef": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "web"}},
}


def service(annotations: dict[str, str] | None = None, traffic: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Knative Service whose latest created revision is web-00002."""
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "test", **({"annotations": annotations} if annotations else {})},
        "spec": {"template": {}},
        "status": {"latestCreatedRevisionName": "web-00002", "traffic": traffic or []},
    }


def test_pins_the_latest_revision_once() -> None:
    """Without the annotation the latest created revision is pinned; with one, nothing changes."""
    pinned = knative.annotated(service())
    assert pinned is not None
    assert pinned["metadata"]["annotations"] == {"flagger.app/primary-revision": "web-00002"}
    assert knative.annotated(pinned) is None


def test_split_written_to_spec_and_read_from_status() -> None:
    """set_routes writes Flagger's two traffic targets; get_routes reads what Knative reports, preferring the
    pinned entry when Knative also names the primary on the latestRevision entry."""
    svc = service({"flagger.app/primary-revision": "web-00001"})
    routed = knative.set_routes(svc, CANARY, 70, 30)
    assert routed["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 30},
        {"revisionName": "web-00001", "percent": 70},
    ]
    reported = service(
        {"flagger.app/primary-revision": "web-00001"},
        [
            {"latestRevision": True, "revisionName": "web-00001", "percent": 0},
            {"latestRevision": False, "revisionName": "web-00001", "percent": 100},
        ],
    )
    assert knative.get_routes(reported, CANARY) == (100, 0, False)


def test_errors_are_flaggers() -> None:
    """No annotation, or status traffic without both targets: Flagger's texts."""
    with pytest.raises(RouterError, match=r"Knative Service web\.test annotation not found"):
        knative.set_routes(service(), CANARY, 100, 0)
    with pytest.raises(RouterError, match=r"Knative Service web\.test traffic spec invalid"):
        knative.get_routes(service({"flagger.app/primary-revision": "web-00001"}), CANARY)
    reverted = knative.reverted(service({"flagger.app/primary-revision": "x"}))
    assert reverted is not None
    assert reverted["metadata"]["annotations"] == {}
