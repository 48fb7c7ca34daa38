"""Our CRDs are generated from the models, committed up to date, and accept everything Flagger's CRDs accept."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from serinus.api import crdgen
from tests.conftest import REPO
from tests.gomodules import flagger_crd_file

COMMITTED = REPO / "deploy" / "crds" / "crds.yaml"

#: Keywords that narrow what a value may be; ours must carry Flagger's exactly and add none where it has none.
CONSTRAINTS = (
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "default",
    "x-kubernetes-validations",
    "nullable",
)
COMBINATORS = ("oneOf", "anyOf", "allOf", "not")
FLAGS = ("x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource")
#: Formats the API server checks; others (`string`, `url`, `int32`) are ignored by it and may differ.
CHECKED_FORMATS = (
    "date-time",
    "datetime",
    "date",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "byte",
    "duration",
)


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {doc["spec"]["names"]["kind"]: doc for doc in docs if doc}


def _flagger() -> dict[str, dict[str, Any]]:
    return _by_kind(list(yaml.safe_load_all(flagger_crd_file().read_text())))


def _ours() -> dict[str, dict[str, Any]]:
    return _by_kind(crdgen.crds())


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _children(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, child in node.get("properties", {}).items():
        yield f".{name}", child
    if isinstance(node.get("additionalProperties"), dict):
        yield "{}", node["additionalProperties"]
    if isinstance(node.get("items"), dict):
        yield "[]", node["items"]


def _is_object(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" or ("properties" in node and "type" not in node)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def compare(theirs: dict[str, Any], ours: dict[str, Any], path: str = "") -> list[str]:
    """Every way `ours` fails to accept exactly what `theirs` accepts (additions of optional fields allowed)."""
    where = path or "<root>"
    if ours is None:
        return [f"{where}: missing"]
    out = []
    if theirs.get("type") != ours.get("type"):
        out.append(f"{where}: type {ours.get('type')!r}, Flagger has {theirs.get('type')!r}")
    if "enum" in theirs or "enum" in ours:
        lost = [v for v in theirs.get("enum", []) if v not in ours.get("enum", [])]
        if lost or ("enum" in ours and "enum" not in theirs):
            out.append(f"{where}: enum {ours.get('enum')} does not include all of Flagger's {theirs.get('enum')}")
    # The API server applies `required` to objects only; on Flagger's spec.service.mirror array it is inert.
    if _is_object(theirs) and sorted(theirs.get("required", [])) != sorted(ours.get("required", [])):
        out.append(f"{where}: required {ours.get('required', [])}, Flagger has {theirs.get('required', [])}")
    for key in (*FLAGS, *COMBINATORS, *CONSTRAINTS):
        if _canonical(theirs.get(key)) != _canonical(ours.get(key)):
            out.append(f"{where}: {key} {ours.get(key)!r}, Flagger has {theirs.get(key)!r}")
    for fmt_node in (theirs, ours):
        if fmt_node.get("format") in CHECKED_FORMATS and theirs.get("format") != ours.get("format"):
            out.append(f"{where}: format {ours.get('format')!r}, Flagger has {theirs.get('format')!r}")
            break
    opaque = _is_object(theirs) and not theirs.get("properties") and "additionalProperties" not in theirs
    if opaque and (ours.get("properties") or "additionalProperties" in ours):
        # Flagger's `metadata: {type: object}` is special-cased by the API server; ours must match it.
        out.append(f"{where}: declares fields where Flagger's schema is an opaque object")
    ours_children = dict(_children(ours))
    for step, child in _children(theirs):
        out.extend(compare(child, ours_children.get(step), path + step))  # type: ignore[arg-type]
    return out


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or "<root>", node
    for step, child in _children(node):
        yield from _walk(child, path + step)


def test_committed_crds_are_generated_output() -> None:
    """deploy/crds/crds.yaml is exactly what `python -m serinus.api.crdgen` prints."""
    assert COMMITTED.read_text(encoding="utf-8") == crdgen.render(), (
        "deploy/crds/crds.yaml is stale: run .venv/bin/python -m serinus.api.crdgen > deploy/crds/crds.yaml"
    )


def test_crdgen_check_mode(tmp_path: Path) -> None:
    """`crdgen --check FILE` passes on a fresh file and fails on a stale one."""
    fresh = tmp_path / "crds.yaml"
    fresh.write_text(crdgen.render(), encoding="utf-8")
    assert crdgen.main(["--check", str(fresh)]) == 0
    fresh.write_text(crdgen.render() + "# edited\n", encoding="utf-8")
    assert crdgen.main(["--check", str(fresh)]) == 1


def test_same_kinds_as_flagger() -> None:
    """Canary, MetricTemplate and AlertProvider, nothing more or less."""
    assert sorted(_ours()) == sorted(_flagger())


@pytest.mark.parametrize("kind", ["Canary", "MetricTemplate", "AlertProvider"])
def test_names_scope_versions_columns_match_flagger(kind: str) -> None:
    """Group, names, scope, version, status subresource, printer columns and keep annotation are Flagger's."""
    theirs, ours = _flagger()[kind], _ours()[kind]
    assert ours["metadata"] == theirs["metadata"]
    assert ours["spec"]["group"] == theirs["spec"]["group"] == "flagger.app"
    assert ours["spec"]["names"] == theirs["spec"]["names"]
    assert ours["spec"]["scope"] == theirs["spec"]["scope"]
    (their_version,), (our_version,) = theirs["spec"]["versions"], ours["spec"]["versions"]
    for key in ("name", "served", "storage", "subresources", "additionalPrinterColumns"):
        assert our_version[key] == their_version[key], key


@pytest.mark.parametrize("kind", ["Canary", "MetricTemplate", "AlertProvider"])
def test_schema_accepts_everything_flaggers_accepts(kind: str) -> None:
    """Every path of Flagger's schema is in ours with the same type, enum, required, flags, oneOf and bounds."""
    assert compare(_schema(_flagger()[kind]), _schema(_ours()[kind])) == []


@pytest.mark.parametrize("kind", ["Canary", "MetricTemplate", "AlertProvider"])
def test_our_additions_are_optional_and_unconstrained_where_flagger_has_the_path(kind: str) -> None:
    """Where a path exists in both, ours adds no constraint keyword Flagger lacks (no tightening)."""
    theirs = dict(_walk(_schema(_flagger()[kind])))
    for path, node in _walk(_schema(_ours()[kind])):
        if path in theirs:
            added = [k for k in CONSTRAINTS + COMBINATORS if k in node and k not in theirs[path]]
            assert added == [], f"{path} adds {added}"


def test_the_only_inert_required_in_flaggers_schema_is_on_service_mirror() -> None:
    """The one `required` on a non-object node in Flagger's CRD is spec.service.mirror's; ours leaves it out."""
    inert = [
        path
        for kind, crd in _flagger().items()
        for path, node in _walk(_schema(crd))
        if "required" in node and not _is_object(node)
    ]
    assert inert == [".spec.service.mirror"]


def _is_judge(path: str) -> bool:
    """True for a path at or under one of the statistical judge's blocks."""
    return any(path == root or path.startswith((f"{root}.", f"{root}[")) for root in JUDGE_ROOTS)


#: Where the statistical judge's optional blocks sit in the Canary schema (docs/judge.md, Settings and The ledger).
JUDGE_ROOTS = (".spec.analysis.judge", ".spec.analysis.metrics[].judge", ".status.judge")


def test_our_additions_over_flagger_are_the_documented_ones() -> None:
    """The paths we add are StatefulSet targets, webhook/alertmanager providers, condition status schemas and the
    statistical judge's blocks (checked on their own below)."""
    added: list[str] = []
    for kind, crd in _ours().items():
        theirs = dict(_walk(_schema(_flagger()[kind])))
        for path, node in _walk(_schema(crd)):
            if kind == "Canary" and _is_judge(path):
                continue
            if path not in theirs:
                added.append(f"{kind}{path}")
            elif set(node.get("enum", [])) - set(theirs[path].get("enum", [])):
                added.append(f"{kind}{path} enum +{sorted(set(node['enum']) - set(theirs[path].get('enum', [])))}")
    assert sorted(added) == sorted(
        [
            "AlertProvider.spec.type enum +['alertmanager', 'webhook']",
            "Canary.spec.targetRef.kind enum +['StatefulSet']",
            "MetricTemplate.spec.provider.type enum +['kayenta']",
            *[
                f"{k}.status{p}"
                for k in ("AlertProvider", "MetricTemplate")
                for p in (
                    "",
                    ".conditions",
                    ".conditions[]",
                    ".conditions[].lastTransitionTime",
                    ".conditions[].lastUpdateTime",
                    ".conditions[].message",
                    ".conditions[].reason",
                    ".conditions[].status",
                    ".conditions[].type",
                )
            ],
        ]
    )


def _required_in(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, list[str]]]:
    for where, child in _walk(node, path):
        if child.get("required"):
            yield where, list(child["required"])


def test_canary_is_flaggers_plus_optional_judge_fields() -> None:
    """Our Canary schema is Flagger's plus the judge's optional blocks: every Flagger property is there with the
    same type, every property Flagger lacks sits under a `judge` key, and no judge key is required, so a Flagger
    manifest validates unchanged and a Serinus manifest without a judge is a Flagger manifest."""
    theirs_schema, ours_schema = _schema(_flagger()["Canary"]), _schema(_ours()["Canary"])
    theirs, ours = dict(_walk(theirs_schema)), dict(_walk(ours_schema))
    for path, node in theirs.items():
        assert path in ours, f"{path}: missing"
        assert ours[path].get("type") == node.get("type"), f"{path}: type {ours[path].get('type')!r}"
    extra = sorted(path for path in ours if path not in theirs)
    assert extra, "the judge blocks are in the CRD"
    assert [path for path in extra if not _is_judge(path)] == []
    assert {root for root in JUDGE_ROOTS if root in ours} == set(JUDGE_ROOTS)
    for root in JUDGE_ROOTS:
        parent = root.rsplit(".", 1)[0] or "<root>"
        assert "judge" not in ours[parent].get("required", []), f"{parent} requires judge"
        assert ours[root]["type"] == "object"
    # Nothing a user writes in a judge block is required; in status.judge, which only the operator writes, each
    # per-metric entry names its metric.
    required = {where: keys for where, keys in _required_in(ours_schema) if _is_judge(where)}
    assert required == {".status.judge.metrics[]": ["metric"]}


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda s: s["properties"]["spec"]["properties"].pop("suspend"), ".spec.suspend: missing"),
        (
            lambda s: s["properties"]["spec"]["properties"]["service"]["properties"]["port"].update(type="integer"),
            ".spec.service.port: type 'integer'",
        ),
        (lambda s: s["properties"]["spec"]["properties"]["provider"]["enum"].remove("kuma"), ".spec.provider: enum"),
        (lambda s: s["properties"]["spec"]["properties"]["service"].update(required=[]), ".spec.service: required"),
        (lambda s: s["properties"]["spec"]["properties"]["analysis"]["oneOf"].pop(), ".spec.analysis: oneOf"),
        (
            lambda s: s["properties"]["spec"]["properties"]["service"]["properties"]["targetPort"].pop(
                "x-kubernetes-int-or-string"
            ),
            ".spec.service.targetPort: x-kubernetes-int-or-string",
        ),
        (
            lambda s: s["properties"]["spec"]["properties"]["analysis"]["properties"]["interval"].update(pattern="^x"),
            ".spec.analysis.interval: pattern",
        ),
        (
            lambda s: (
                s["properties"]["spec"]["properties"]["service"]["properties"].update(foo={"type": "string"})
                or s["properties"]["spec"]["properties"]["service"]["required"].append("foo")
            ),
            ".spec.service: required",
        ),
    ],
)
def test_comparison_catches_each_kind_of_difference(mutate: Any, expect: str) -> None:
    """The comparison is not vacuous: removing, retyping, narrowing or tightening any part is reported."""
    ours = copy.deepcopy(_schema(_ours()["Canary"]))
    mutate(ours)
    problems = compare(_schema(_flagger()["Canary"]), ours)
    assert any(p.startswith(expect) for p in problems), problems


def test_every_model_field_is_in_the_crd_except_canary_analysis() -> None:
    """The generator emits every field it is given; only the deprecated canaryAnalysis is kept out, as Flagger does."""
    spec = _schema(_ours()["Canary"])["properties"]["spec"]["properties"]
    assert "canaryAnalysis" not in spec
    assert {"analysis", "targetRef", "service", "provider", "suspend"} <= set(spec)
