"""Config tracking: references found, Flagger-identical checksums, change detection and primary copies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from serinus.targets.configs import (
    checksum,
    config_ref,
    has_config_changed,
    primary_copy,
    rename_tracked_refs,
    scan_config_refs,
    tracked_configs,
)

# Produced by Go 1.26: hex(sha256(json.Marshal(map[string]string))[:8]) for each map.
GO_CHECKSUMS = [
    ({}, "44136fa355b3678a"),
    ({"a": "1"}, "9afeb0f2b203f254"),
    ({"z": "last", "a": "first", "config.yaml": "key: value\nlist:\n  - x\n"}, "f560620ed1ebd737"),
    ({"html": "<b>&amp;</b>", "uni": "café ☕ \u2028 end", "ctl": '\x01\x1f\t\b\f\r"\\'}, "103ee9209db9e20c"),
]

POD_SPEC: dict[str, Any] = {
    "volumes": [
        {"name": "a", "configMap": {"name": "app-config"}},
        {"name": "b", "secret": {"secretName": "tls", "optional": True}},
        {
            "name": "c",
            "projected": {
                "sources": [{"configMap": {"name": "projected-cm"}}, {"secret": {"name": "projected-secret"}}]
            },
        },
    ],
    "containers": [
        {
            "name": "app",
            "env": [
                {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "x", "optional": True}}},
                {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "y"}}},
                {"name": "Z", "value": "plain"},
            ],
            "envFrom": [{"configMapRef": {"name": "bulk-cm"}}],
        }
    ],
    "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
}


@pytest.mark.parametrize(("data", "expected"), GO_CHECKSUMS)
def test_checksum_matches_flaggers_go(data: dict[str, str], expected: str) -> None:
    """Our checksum equals Flagger's (Go JSON + SHA-256), so trackedConfigs written by Flagger stay valid."""
    assert checksum(data) == expected


def test_every_reference_kind_is_found_with_its_optionality() -> None:
    """Volumes, projected sources, env, envFrom and init containers are all scanned; optional flags kept."""
    configmaps, secrets = scan_config_refs(POD_SPEC)
    assert configmaps == {"app-config": True, "projected-cm": True, "env-cm": False, "bulk-cm": True}
    assert secrets == {"tls": False, "projected-secret": True, "env-secret": True, "init-secret": True}


def test_registry_secrets_and_disabled_configs_are_not_tracked() -> None:
    """Docker registry secrets and objects annotated flagger.app/config-tracking: disabled are ignored."""
    assert config_ref({"kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "metadata": {"name": "r"}}) is None
    disabled = {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"flagger.app/config-tracking": "disabled"}},
        "data": {"a": "1"},
    }
    assert config_ref(disabled) is None
    ref = config_ref({"kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": "t"}, "data": {"a": "1"}})
    assert ref is not None
    assert (ref.key, ref.checksum) == ("secret/t", "9afeb0f2b203f254")


def test_change_detection_rules() -> None:
    """Nothing tracked and nothing used is no change; a new, removed or edited config is a change."""
    now = tracked_configs(
        [c for c in [config_ref({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})] if c]
    )
    assert not has_config_changed({}, None)
    assert has_config_changed(now, None)
    assert not has_config_changed(now, dict(now))
    assert has_config_changed(now, {"configmap/a": "0000000000000000"})
    assert has_config_changed(now, {**now, "secret/b": "x"})
    assert has_config_changed({}, {"configmap/a": "x"})


def test_primary_copy_keeps_data_type_and_foreign_owners() -> None:
    """The -primary copy has the same data and type, the Canary as controller, and other owners as non-controllers."""
    secret = {
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y3J0"},
        "metadata": {"name": "tls", "namespace": "test", "labels": {"app": "x", "team": "y"}},
    }
    canary = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "podinfo", "uid": "1", "controller": True}
    existing = {
        "metadata": {"ownerReferences": [dict(canary), {"kind": "Application", "name": "argo", "controller": True}]}
    }
    copy_ = primary_copy(secret, canary_owner=canary, existing=existing, include_label_prefixes=["team"])
    assert copy_["metadata"]["name"] == "tls-primary"
    assert (copy_["type"], copy_["data"]) == ("kubernetes.io/tls", {"tls.crt": "Y3J0"})
    assert copy_["metadata"]["labels"] == {"team": "y"}
    assert copy_["metadata"]["ownerReferences"] == [
        canary,
        {"kind": "Application", "name": "argo", "controller": False},
    ]


def test_only_tracked_references_are_renamed() -> None:
    """References to tracked configs point at -primary copies; untracked ones are left alone."""
    spec = copy.deepcopy(POD_SPEC)
    rename_tracked_refs(spec, {"configmap/app-config", "secret/tls", "secret/init-secret", "configmap/bulk-cm"})
    assert spec["volumes"][0]["configMap"]["name"] == "app-config-primary"
    assert spec["volumes"][1]["secret"]["secretName"] == "tls-primary"
    assert spec["volumes"][2]["projected"]["sources"][0]["configMap"]["name"] == "projected-cm"
    assert spec["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "bulk-cm-primary"
    assert spec["initContainers"][0]["envFrom"][0]["secretRef"]["name"] == "init-secret-primary"
