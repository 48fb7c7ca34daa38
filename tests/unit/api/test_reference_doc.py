"""The behaviour reference (flagger.md) and the models agree: every field of section 1 exists and every enum value
listed is accepted. (The reference shows no Canary or MetricTemplate as YAML; Flagger's own example manifests are
validated in test_check.py.)"""

from __future__ import annotations

import re
from typing import Any

from serinus.api import AlertProviderType, CanaryPhase, MetricProviderType, Provider
from serinus.api.crdgen import schema_of
from serinus.api.refs import TargetKind
from tests.conftest import reference_dir

#: Where each table of section 1 lives: the heading (or table intro) that starts it -> (kind, path prefix).
_TABLES = {
    "#### 1.1.1 `spec`": ("Canary", ("spec",)),
    "#### 1.1.2 `spec.service`": ("Canary", ("spec", "service")),
    "#### 1.1.3 `spec.analysis`": ("Canary", ("spec", "analysis")),
    "`metrics[]`:": ("Canary", ("spec", "analysis", "metrics", "[]")),
    "`webhooks[]`:": ("Canary", ("spec", "analysis", "webhooks", "[]")),
    "`sessionAffinity` (": ("Canary", ("spec", "analysis", "sessionAffinity")),
    "#### 1.1.4 `status`": ("Canary", ("status",)),
    "Phases:": ("", ()),
    "### 1.2 `MetricTemplate`": ("MetricTemplate", ()),
    "### 1.3 `AlertProvider`": ("AlertProvider", ()),
}


def section_one() -> str:
    """Section 1 of flagger.md (the CRDs, every field)."""
    text = (reference_dir() / "flagger.md").read_text(encoding="utf-8")
    start, end = text.index("## 1. The CRDs"), text.index("## 2. ")
    return text[start:end]


def documented_fields() -> list[tuple[str, tuple[str, ...]]]:
    """(kind, path) of every field named in the first column of a section-1 table."""
    out: list[tuple[str, tuple[str, ...]]] = []
    kind, prefix = "", ()
    for line in section_one().splitlines():
        for start, target in _TABLES.items():
            if line.startswith(start):
                kind, prefix = target
        if not kind or not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        for name in re.findall(r"`([^`]+)`", first):
            out.append((kind, (*prefix, *name.split("."))))
    return out


def _resolve(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for step in path:
        if node is None:
            return None
        node = node.get("items") if step == "[]" else node.get("properties", {}).get(step)
    return node


def test_section_one_lists_the_fields_we_expect_to_check() -> None:
    """The table parser finds the tables (so the field test below has something to check)."""
    fields = documented_fields()
    assert len(fields) > 80
    assert ("Canary", ("spec", "analysis", "webhooks", "[]", "disableTLS")) in fields
    assert ("MetricTemplate", ("spec", "provider", "secretRef", "name")) in fields
    assert ("AlertProvider", ("spec", "proxy")) in fields


def test_every_documented_field_is_in_our_crd() -> None:
    """Each field the reference lists is in our CRD schema (canaryAnalysis is model-only, as in Flagger)."""
    missing = []
    for kind, path in documented_fields():
        if kind == "Canary" and path == ("spec", "canaryAnalysis"):
            continue
        if _resolve(schema_of(kind), path) is None:
            missing.append(f"{kind} {'.'.join(path)}")
    assert missing == []


def test_documented_enums_are_accepted() -> None:
    """Phases, providers, target kinds, metric and alert provider types listed in section 1 are in our enums."""
    text = section_one()
    phases = re.search(r"\| `phase` \| enum `([^`]*)`", text)
    assert phases is not None
    assert {p.strip().strip('"') for p in phases.group(1).split(",")} == {p.value for p in CanaryPhase}
    providers = re.search(r"\| `provider` \| string, CRD enum: `([^`]*)`", text)
    assert providers is not None
    assert {p.strip() for p in providers.group(1).split(",")} == {p.value for p in Provider}
    metric_types = re.search(r"\| `spec.provider.type` \| enum `([^`]*)`", text)
    assert metric_types is not None
    # ours adds kayenta (Spinnaker's judge), which Flagger's docs mention but Flagger never had
    assert {t.strip() for t in metric_types.group(1).split(",")} == {t.value for t in MetricProviderType} - {"kayenta"}
    alert_types = re.search(r"\| `spec.type` \| enum `([^`]*)`", text)
    assert alert_types is not None
    assert {t.strip() for t in alert_types.group(1).split(",")} <= {t.value for t in AlertProviderType}
    assert {"DaemonSet", "Deployment", "Service"} <= {k.value for k in TargetKind}
