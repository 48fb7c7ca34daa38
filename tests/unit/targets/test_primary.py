"""The `-primary` Deployment follows Flagger's copy rules for labels, annotations, selectors and config refs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.errors import InvalidSpecError
from serinus.targets.metadata import include_by_prefix
from serinus.targets.primary import (
    check_target,
    discovered_ports,
    new_primary,
    promoted_primary,
    selector_label,
)

OWNER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "name": "podinfo",
    "uid": "u-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def target(replicas: int | None = 3) -> dict[str, Any]:
    dep: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"app": "podinfo", "team": "a", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {"note": "x", "kustomize.toolkit.fluxcd.io/checksum": "c"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "podinfo"}},
            "minReadySeconds": 5,
            "revisionHistoryLimit": 3,
            "template": {
                "metadata": {
                    "labels": {"app": "podinfo", "version": "v2"},
                    "annotations": {"prometheus.io/scrape": "true", "flagger-id": "old"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "podinfo:6.1",
                            "ports": [
                                {"name": "http", "containerPort": 9898},
                                {"containerPort": 9797},
                                {"name": "grpc", "containerPort": 9999},
                            ],
                            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}],
                            "envFrom": [{"secretRef": {"name": "creds"}}],
                        },
                        {"name": "istio-proxy", "ports": [{"containerPort": 15090}]},
                    ],
                    "volumes": [
                        {"name": "c", "configMap": {"name": "cfg"}},
                        {"name": "s", "secret": {"secretName": "creds"}},
                    ],
                    "topologySpreadConstraints": [{"labelSelector": {"matchLabels": {"app": "podinfo"}}}],
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {
                                        "matchExpressions": [
                                            {"key": "app", "operator": "In", "values": ["other", "podinfo"]}
                                        ]
                                    }
                                }
                            ]
                        }
                    },
                },
            },
        },
    }
    if replicas is not None:
        dep["spec"]["replicas"] = replicas
    return dep


def build(dep: dict[str, Any], prefixes: tuple[str, ...] = ()) -> dict[str, Any]:
    return new_primary(
        dep,
        label="app",
        selector_labels=["app", "name"],
        include_label_prefixes=prefixes,
        owner=OWNER,
        tracked_configs={"configmap/cfg", "secret/creds"},
        new_id=lambda: "id-1",
    )


def test_selector_label_is_the_first_candidate_present() -> None:
    """The selector label is the first of the candidate keys found in spec.selector.matchLabels."""
    dep = target()
    dep["spec"]["selector"]["matchLabels"] = {"name": "pod", "app.kubernetes.io/name": "x"}
    assert selector_label(dep) == ("name", "pod")


def test_missing_selector_label_is_a_clear_error() -> None:
    """A target without any candidate selector label is an error in Flagger's words."""
    dep = target()
    dep["spec"]["selector"]["matchLabels"] = {"role": "web"}
    with pytest.raises(
        InvalidSpecError,
        match=r"deployment podinfo.test spec.selector.matchLabels must contain one "
        r"of \[app name app.kubernetes.io/name\]",
    ):
        selector_label(dep)


def test_primary_selects_only_primary_pods() -> None:
    """The primary's selector and pod labels carry `<value>-primary`, so it never selects the target's pods."""
    primary = build(target())
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"] == {"app": "podinfo-primary", "version": "v2"}
    assert primary["metadata"]["ownerReferences"] == [OWNER]


def test_flux_keys_never_reach_the_primary_and_labels_follow_the_prefix_flag() -> None:
    """Flux toolkit labels/annotations are dropped; object labels are copied only for --include-label-prefix."""
    primary = build(target())
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["metadata"]["annotations"] == {"note": "x"}
    assert build(target(), ("te",))["metadata"]["labels"] == {"app": "podinfo-primary", "team": "a"}
    assert include_by_prefix({"a": "1", "b.toolkit.fluxcd.io/x": "2"}, ["*"]) == {"a": "1"}


def test_pod_template_gets_a_fresh_flagger_id() -> None:
    """The primary's pod annotations are the target's with a new flagger-id, forcing a rolling update."""
    annotations = build(target())["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "flagger-id": "id-1"}


def test_replicas_default_to_one_when_target_has_none() -> None:
    """A target with replicas 0 or unset gets a primary with one replica; otherwise the target's count."""
    assert build(target(0))["spec"]["replicas"] == 1
    assert build(target(None))["spec"]["replicas"] == 1
    assert build(target(4))["spec"]["replicas"] == 4


def test_config_refs_and_anti_affinity_point_at_primary_copies() -> None:
    """ConfigMap/Secret refs use the -primary copies; spread and anti-affinity selectors naming the target too."""
    spec = build(target())["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "cfg-primary"
    assert container["envFrom"][0]["secretRef"]["name"] == "creds-primary"
    assert spec["volumes"][0]["configMap"]["name"] == "cfg-primary"
    assert spec["volumes"][1]["secret"]["secretName"] == "creds-primary"
    assert spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {"app": "podinfo-primary"}
    expr = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert expr["labelSelector"]["matchExpressions"][0]["values"] == ["other", "podinfo-primary"]


def test_builders_do_not_mutate_the_target() -> None:
    """Building a primary leaves the target object untouched."""
    dep = target()
    before = copy.deepcopy(dep)
    build(dep)
    promoted_primary(
        build(dep), dep, label="app", selector_labels=["app"], include_label_prefixes=[], has_autoscaler=False
    )
    assert dep == before


def test_promotion_copies_template_and_keeps_replicas_under_an_autoscaler() -> None:
    """Promotion copies the new pod template; replicas follow the target only when no autoscaler is set."""
    primary = build(target(3))
    primary["spec"]["replicas"] = 7
    new = target(2)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "podinfo:6.2"
    kept = promoted_primary(
        primary,
        new,
        label="app",
        selector_labels=["app"],
        include_label_prefixes=[],
        has_autoscaler=True,
        new_id=lambda: "id-2",
    )
    assert kept["spec"]["replicas"] == 7
    assert kept["spec"]["template"]["spec"]["containers"][0]["image"] == "podinfo:6.2"
    assert kept["spec"]["template"]["metadata"]["annotations"]["flagger-id"] == "id-2"
    assert kept["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    follows = promoted_primary(
        primary, new, label="app", selector_labels=["app"], include_label_prefixes=[], has_autoscaler=False
    )
    assert follows["spec"]["replicas"] == 2


def test_port_discovery_skips_sidecars_and_the_service_port() -> None:
    """Discovered ports are every container port but sidecars' and the targetPort, named like Flagger's."""
    containers = target()["spec"]["template"]["spec"]["containers"]
    assert discovered_ports(containers, 80, 9898) == {"tcp-app-1": 9797, "grpc": 9999}
    assert discovered_ports(containers, 80, "grpc") == {"http": 9898, "tcp-app-1": 9797}
    assert discovered_ports(containers, 9898, None) == {"tcp-app-1": 9797, "grpc": 9999}


def daemonset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "test"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "minReadySeconds": 3,
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "nodeSelector": {"flagger.app/scale-to-zero": "true", "os": "linux"},
                    "containers": [{"name": "agent", "image": "agent:1"}],
                },
            },
        },
    }


def test_daemonset_primary_has_no_replicas_and_drops_the_scale_to_zero_selector() -> None:
    """A DaemonSet primary copies updateStrategy, has no replicas, and never inherits the scale-to-zero selector."""
    primary = new_primary(
        daemonset(), label="app", selector_labels=["app"], include_label_prefixes=[], owner=OWNER, new_id=lambda: "id"
    )
    assert primary["kind"] == "DaemonSet"
    assert "replicas" not in primary["spec"]
    assert primary["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    assert primary["spec"]["template"]["spec"]["nodeSelector"] == {"os": "linux"}


def test_daemonset_must_roll_update() -> None:
    """A DaemonSet with the OnDelete strategy is refused in Flagger's words."""
    ds = daemonset()
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(InvalidSpecError) as caught:
        check_target(ds)
    assert str(caught.value) == "daemonset agent.test must have RollingUpdate strategy but have OnDelete"


def test_statefulset_primary_keeps_create_only_fields_on_promotion() -> None:
    """A StatefulSet primary copies serviceName and volumeClaimTemplates once; promotion never changes them."""
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "test"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "db"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "db:1"}]},
            },
        },
    }
    primary = new_primary(sts, label="app", selector_labels=["app"], include_label_prefixes=[], owner=OWNER)
    assert (primary["spec"]["replicas"], primary["spec"]["serviceName"]) == (3, "db")
    assert primary["spec"]["volumeClaimTemplates"] == [{"metadata": {"name": "data"}}]
    changed = copy.deepcopy(sts)
    changed["spec"]["serviceName"] = "other"
    changed["spec"]["podManagementPolicy"] = "OrderedReady"
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "db:2"
    promoted = promoted_primary(
        primary, changed, label="app", selector_labels=["app"], include_label_prefixes=[], has_autoscaler=False
    )
    assert promoted["spec"]["serviceName"] == "db"
    assert promoted["spec"]["podManagementPolicy"] == "Parallel"
    assert promoted["spec"]["template"]["spec"]["containers"][0]["image"] == "db:2"
