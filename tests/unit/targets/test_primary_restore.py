"""The primary keeps the spec it ran before each promotion, and a stalled promotion puts it back (issue #22 item
4): the pure builders behind WorkloadController.promote and restore_primary."""

from __future__ import annotations

import copy
import json
from typing import Any

from serinus.targets.primary import (
    LAST_GOOD_ANNOTATION,
    RESTORED_ANNOTATION,
    is_restored,
    new_primary,
    promoted_primary,
    restored_primary,
    with_last_good,
)

OWNER = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "podinfo", "uid": "u-1"}


def target(image: str, replicas: int = 2, kind: str = "Deployment") -> dict[str, Any]:
    """A podinfo workload running `image`."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "podinfo", "namespace": "test", "annotations": {"note": "x"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {"containers": [{"name": "podinfo", "image": image}]},
            },
        },
    }


def promoted(image: str, replicas: int = 2) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the primary as created from v1, the same primary after promoting `image` with the last good spec kept)."""
    before = new_primary(
        target("podinfo:v1"), label="app", selector_labels=["app"], include_label_prefixes=[], owner=OWNER
    )
    before["metadata"]["resourceVersion"] = "7"
    after = promoted_primary(
        before,
        target(image, replicas),
        label="app",
        selector_labels=["app"],
        include_label_prefixes=[],
        has_autoscaler=False,
        new_id=lambda: "id-2",
    )
    return before, with_last_good(after, before)


def image(obj: dict[str, Any]) -> str:
    """The first container's image of a workload."""
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def test_promotion_keeps_the_spec_the_primary_ran() -> None:
    """After promoting v2 the primary runs v2 and carries v1's template, strategy and replicas as JSON."""
    before, after = promoted("podinfo:v2", replicas=4)
    assert image(after) == "podinfo:v2"
    kept = json.loads(after["metadata"]["annotations"][LAST_GOOD_ANNOTATION])
    assert kept["template"] == before["spec"]["template"]
    assert kept["replicas"] == 2
    assert kept["strategy"] == {"rollingUpdate": {"maxUnavailable": 0}}
    assert "selector" not in kept, "the selector is immutable: never kept, never restored"
    assert set(after["metadata"]["annotations"]) == {LAST_GOOD_ANNOTATION}, "Flagger's annotation rules unchanged"


def test_restore_puts_back_template_replicas_and_flagger_id() -> None:
    """Restoring gives the primary v1's exact template (its flagger-id too, so Kubernetes scales the old
    ReplicaSet back up instead of starting a new one) and replicas, marked restored, with its resourceVersion."""
    before, after = promoted("podinfo:v2", replicas=4)
    restored = restored_primary(after, has_autoscaler=False)
    assert restored is not None
    assert restored["spec"]["template"] == before["spec"]["template"]
    assert image(restored) == "podinfo:v1"
    assert restored["spec"]["replicas"] == 2
    assert restored["spec"]["selector"] == before["spec"]["selector"]
    assert restored["metadata"]["resourceVersion"] == "7"
    assert is_restored(restored)
    assert not is_restored(after)


def test_restore_leaves_replicas_to_the_autoscaler() -> None:
    """Under an HPA the replicas are the autoscaler's: only the template and rollout settings go back."""
    _, after = promoted("podinfo:v2", replicas=4)
    after["spec"]["replicas"] = 9
    restored = restored_primary(after, has_autoscaler=True)
    assert restored is not None
    assert restored["spec"]["replicas"] == 9
    assert image(restored) == "podinfo:v1"


def test_nothing_kept_or_unreadable_means_no_restore() -> None:
    """A primary promoted without a kept spec, or with a damaged one, is not restored (the engine falls back)."""
    _, after = promoted("podinfo:v2")
    bare = copy.deepcopy(after)
    del bare["metadata"]["annotations"][LAST_GOOD_ANNOTATION]
    assert restored_primary(bare, has_autoscaler=False) is None
    for damaged in ("{", "[]", '{"replicas": 1}'):
        after["metadata"]["annotations"][LAST_GOOD_ANNOTATION] = damaged
        assert restored_primary(after, has_autoscaler=False) is None


def test_the_next_promotion_clears_the_restored_mark_and_keeps_the_restored_spec() -> None:
    """Promoting again after a restore keeps the restored (good) spec as the last good one and drops the mark."""
    _, after = promoted("podinfo:v2")
    restored = restored_primary(after, has_autoscaler=False)
    assert restored is not None
    again = promoted_primary(
        restored,
        target("podinfo:v3"),
        label="app",
        selector_labels=["app"],
        include_label_prefixes=[],
        has_autoscaler=False,
    )
    again["metadata"].setdefault("annotations", {})[RESTORED_ANNOTATION] = "true"  # as if a prefix had copied it
    kept = with_last_good(again, restored)
    assert not is_restored(kept)
    assert image(kept) == "podinfo:v3"
    assert json.loads(kept["metadata"]["annotations"][LAST_GOOD_ANNOTATION])["template"]["spec"]["containers"][0][
        "image"
    ] == ("podinfo:v1")


def test_daemonset_keeps_no_replicas() -> None:
    """A DaemonSet has no replicas: its template and update strategy are kept and restored."""
    ds = target("podinfo:v1", kind="DaemonSet")
    del ds["spec"]["replicas"]
    del ds["spec"]["strategy"]
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    moved = copy.deepcopy(ds)
    moved["spec"]["template"]["spec"]["containers"][0]["image"] = "podinfo:v2"
    kept = with_last_good(moved, ds)
    assert set(json.loads(kept["metadata"]["annotations"][LAST_GOOD_ANNOTATION])) == {"template", "updateStrategy"}
    restored = restored_primary(kept, has_autoscaler=False)
    assert restored is not None
    assert image(restored) == "podinfo:v1"
    assert "replicas" not in restored["spec"]
