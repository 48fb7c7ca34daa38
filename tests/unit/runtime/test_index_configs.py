"""The index answers which Canaries track a ConfigMap or Secret, from their status.trackedConfigs, and forgets them
as they change or go: a config watch event wakes exactly those Canaries."""

from __future__ import annotations

from typing import Any

from serinus.runtime.watch import CanaryIndex


def _canary(ns: str, name: str, tracked: dict[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"namespace": ns, "name": name},
        "spec": {"targetRef": {"kind": "Deployment", "name": name}, "service": {"port": 80}},
    }
    if tracked is not None:
        body["status"] = {"trackedConfigs": tracked}
    return body


def test_a_config_is_tracked_by_the_canaries_of_its_namespace_that_list_it() -> None:
    """Two Canaries share a ConfigMap; one in another namespace with the same config name is not woken by it."""
    index = CanaryIndex()
    index.update(("apps", "web"), _canary("apps", "web", {"configmap/cfg": "a", "secret/creds": "b"}))
    index.update(("apps", "api"), _canary("apps", "api", {"configmap/cfg": "a"}))
    index.update(("other", "web"), _canary("other", "web", {"configmap/cfg": "a"}))
    assert index.tracking("apps", "configmap/cfg") == {("apps", "web"), ("apps", "api")}
    assert index.tracking("apps", "secret/creds") == {("apps", "web")}
    assert index.tracking("apps", "secret/cfg") == set()  # a Secret named like the ConfigMap is another object
    assert index.tracking("apps", "configmap/unrelated") == set()


def test_a_new_status_and_a_deletion_are_reflected() -> None:
    """When a Canary stops tracking a config, or is deleted, events for that config no longer wake it."""
    index = CanaryIndex()
    index.update(("apps", "web"), _canary("apps", "web", {"configmap/old": "a"}))
    index.update(("apps", "web"), _canary("apps", "web", {"configmap/new": "a"}))
    assert index.tracking("apps", "configmap/old") == set()
    assert index.tracking("apps", "configmap/new") == {("apps", "web")}
    index.remove(("apps", "web"))
    assert index.tracking("apps", "configmap/new") == set()
    assert index.trackers == {}  # nothing is kept for configs nobody tracks


def test_a_canary_without_status_tracks_nothing() -> None:
    """A Canary not yet initialized has no trackedConfigs: no config wakes it."""
    index = CanaryIndex()
    index.update(("apps", "web"), _canary("apps", "web", None))
    assert index.configs[("apps", "web")] == set()
    assert index.trackers == {}
