"""Check a manifest the way the API server and then Flagger would: schema, decoding, run-time rules."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from serinus.api.alert_provider import AlertProvider
from serinus.api.base import KubeObject
from serinus.api.canary import Canary
from serinus.api.crdgen import schema_of
from serinus.api.meta import API_VERSION, GROUP, OBJECT_META_FIELDS
from serinus.api.metric_template import MetricTemplate
from serinus.api.problems import Path, Problem, error, one_of, show, warning
from serinus.api.rules import (
    DEFAULT_SELECTOR_LABELS,
    RuleContext,
    check_alert_provider,
    check_canary,
    check_metric_template,
)
from serinus.api.rules.gotypes import bounds_at, go_integer_rules
from serinus.api.structural import prune, validate

MODELS: dict[str, type[KubeObject]] = {
    "Canary": Canary,
    "MetricTemplate": MetricTemplate,
    "AlertProvider": AlertProvider,
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class ObjectReport:
    """The verdict on one object."""

    kind: str
    name: str
    namespace: str
    problems: tuple[Problem, ...]
    #: The parsed object, when it could be parsed.
    obj: KubeObject | None = None

    @property
    def errors(self) -> list[Problem]:
        """Problems that make the object invalid."""
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        """Problems that do not."""
        return [p for p in self.problems if not p.is_error]

    @property
    def valid(self) -> bool:
        """True when there is no error."""
        return not self.errors


def is_kubernetes_object(doc: Any) -> bool:
    """A mapping with a string apiVersion and kind."""
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("apiVersion"), str)
        and isinstance(doc.get("kind"), str)
        and bool(doc["apiVersion"])
        and bool(doc["kind"])
    )


def is_flagger_object(doc: Mapping[str, Any]) -> bool:
    """True for any apiVersion of the flagger.app group."""
    return str(doc.get("apiVersion", "")).split("/")[0] == GROUP


def _distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest one-character insertions, deletions and substitutions from a to b."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _near_group(group: str) -> bool:
    """A misspelt flagger.app (`flager.app`, `Flagger.app`, `flagger.io`)."""
    lower = group.lower()
    return group != GROUP and ("flagger" in lower or _distance(lower, GROUP) <= 3)


def _near_kind(kind: str) -> str | None:
    """Our kind that `kind` is, or is a misspelling of (`Canery`, `canary`, `MetricTemplates`), else None."""
    lower = kind.lower()
    for ours in MODELS:
        if kind != ours and _distance(lower, ours.lower()) <= 2:
            return ours
    return None


def is_near_flagger_object(doc: Mapping[str, Any]) -> bool:
    """An object meant to be ours under a misspelt apiVersion or kind: a group close to flagger.app, or one of our
    kinds (or close to one) in the core group or a Kubernetes group, where no such kind exists. Objects of other
    groups are left alone, whatever their kind: they may be someone else's CRD."""
    if is_flagger_object(doc):
        return False
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    group = api_version.split("/")[0] if "/" in api_version else ""
    if _near_group(group):
        return True
    kubernetes_group = "." not in group or group.endswith(".k8s.io")
    return kubernetes_group and (kind in MODELS or _near_kind(kind) is not None)


@functools.cache
def _schema(kind: str) -> Mapping[str, Any]:
    return schema_of(kind)


def _metadata_problems(meta: Any) -> list[Problem]:
    """What the API server checks in metadata (it is not part of the CRD schema)."""
    if meta is None:
        return [error(("metadata", "name"), "is required", "metadata")]
    if not isinstance(meta, Mapping):
        return [error(("metadata",), f"must be a mapping of keys to values, got {show(meta)}", "metadata")]
    out: list[Problem] = []
    name, generate = meta.get("name"), meta.get("generateName")
    if not name and not generate:
        out.append(error(("metadata", "name"), "is required", "metadata"))
    elif name is not None and not (isinstance(name, str) and len(name) <= 253 and _DNS_SUBDOMAIN.match(name)):
        out.append(
            error(
                ("metadata", "name"),
                "must be a DNS subdomain (lowercase letters, digits, '-' and '.', "
                f"at most 253 characters), got {show(name)}",
                "metadata",
            )
        )
    namespace = meta.get("namespace")
    if namespace is not None and not (
        isinstance(namespace, str) and len(namespace) <= 63 and _DNS_LABEL.match(namespace)
    ):
        out.append(
            error(
                ("metadata", "namespace"),
                "must be a DNS label (lowercase letters, digits and '-', at "
                f"most 63 characters), got {show(namespace)}",
                "metadata",
            )
        )
    for key in meta:
        if key not in OBJECT_META_FIELDS:
            out.append(warning(("metadata", key), "unknown field, the API server drops it", "unknown-field"))
    for group in ("labels", "annotations"):
        values = meta.get(group)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            out.append(error(("metadata", group), f"must be a mapping of strings, got {show(values)}", "metadata"))
            continue
        for key, value in values.items():
            if not isinstance(value, str):
                out.append(
                    error(("metadata", group, key), f"must be a string, got {show(value)}; quote it", "metadata")
                )
    return out


def _decoding_problems(model: type[KubeObject], err: ValidationError) -> list[Problem]:
    """Pydantic's complaints about an object of `model`, phrased like the schema's (they are what Flagger's Go
    decoder would refuse)."""
    out = []
    for item in err.errors(include_url=False):
        path: Path = tuple(item["loc"])
        if item["type"] == "missing":
            message = "is required"
        elif item["type"] in ("int_from_float", "int_parsing", "int_type"):
            message = f"must be a whole number, got {show(item.get('input'))}"
        elif item["type"] == "int_parsing_size":  # a whole number past 2**64: beyond every Go integer
            low, high = bounds_at(model, path)
            message = (
                f"must be a whole number from {low} to {high}, the range of Flagger's Go field, "
                f"got {show(item.get('input'))}"
            )
        else:
            text = item["msg"]
            message = f"{text[:1].lower()}{text[1:]}, got {show(item.get('input'))}"
        out.append(error(path, message, "decode"))
    return out


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path[: len(root)] == root for root in roots)


def check_object(doc: Mapping[str, Any], context: RuleContext | None = None) -> ObjectReport:
    """Every problem of one flagger.app object: schema (as the API server), decoding (as Flagger), rules."""
    context = context or RuleContext()
    kind = str(doc.get("kind"))
    meta = doc.get("metadata")
    name = str(meta.get("name") or meta.get("generateName") or "") if isinstance(meta, Mapping) else ""
    namespace = str(meta.get("namespace") or "") if isinstance(meta, Mapping) else ""
    problems: list[Problem] = []
    if doc.get("apiVersion") != API_VERSION:
        problems.append(
            error(("apiVersion",), f"{show(doc.get('apiVersion'))} is not served; use {API_VERSION}", "api-version")
        )
    model = MODELS.get(kind)
    if model is None:
        close = _near_kind(kind)
        hint = f"; did you mean {close}?" if close else ""
        problems.append(
            error(("kind",), f"{show(kind)} is not a {GROUP} kind; expected {one_of(list(MODELS))}{hint}", "kind")
        )
        return ObjectReport(kind, name, namespace, tuple(problems))
    problems += _metadata_problems(meta)
    pruned, dropped = prune(_schema(kind), {k: v for k, v in doc.items() if k != "metadata"})
    problems += dropped
    schema_errors = validate(_schema(kind), pruned)
    problems += schema_errors
    roots = [p.path for p in schema_errors]
    try:
        obj = model.model_validate(
            pruned | {"metadata": meta if isinstance(meta, Mapping) else {}}, by_alias=True, by_name=False
        )
    except ValidationError as err:
        problems += [p for p in _decoding_problems(model, err) if not _under(p.path, roots)]
        return ObjectReport(kind, name, namespace, tuple(problems))
    found = _rules(obj, context)
    # a rule that already refuses the number or its list (a port outside 1-65535, step weights above 100) says it
    # better than the Go range
    refused = {p.path for p in found if p.is_error}
    found = [*(p for p in go_integer_rules(obj) if not {p.path, p.path[:-1]} & refused), *found]
    problems += [p for p in found if p.path not in roots]
    return ObjectReport(kind, name, namespace, tuple(problems), obj)


def _rules(obj: KubeObject, context: RuleContext) -> list[Problem]:
    if isinstance(obj, Canary):
        return check_canary(obj, context)
    if isinstance(obj, MetricTemplate):
        return check_metric_template(obj)
    if isinstance(obj, AlertProvider):
        return check_alert_provider(obj)
    return []


def context_for(
    docs: Sequence[Mapping[str, Any]],
    *,
    mesh_provider: str = "istio",
    no_cross_namespace_refs: bool = False,
    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS,
) -> RuleContext:
    """A RuleContext that knows the MetricTemplates, workloads and Canaries among some manifests."""
    workloads: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    targets: dict[tuple[str, str, str], list[str]] = {}
    for doc in docs:
        meta = doc.get("metadata")
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
            continue
        namespace = str(meta.get("namespace") or "")
        if is_flagger_object(doc):
            spec, target = doc.get("spec"), None
            if doc.get("kind") == "Canary" and isinstance(spec, Mapping):
                target = spec.get("targetRef")
            if isinstance(target, Mapping):
                key = (namespace, str(target.get("kind")), str(target.get("name")))
                targets.setdefault(key, []).append(meta["name"])
        else:
            workloads[(namespace, str(doc.get("kind")), meta["name"])] = doc
    return RuleContext(
        mesh_provider=mesh_provider,
        no_cross_namespace_refs=no_cross_namespace_refs,
        templates=templates_in(docs),
        selector_labels=tuple(selector_labels),
        workloads=workloads,
        canaries_by_target={key: tuple(names) for key, names in targets.items()},
    )


def templates_in(docs: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], MetricTemplate]:
    """The MetricTemplates among some manifests that parse, by (namespace, name), for reference checks."""
    out: dict[tuple[str, str], MetricTemplate] = {}
    for doc in docs:
        if doc.get("kind") == "MetricTemplate" and doc.get("apiVersion") == API_VERSION:
            try:
                template = MetricTemplate.model_validate(doc)
            except ValidationError:
                continue
            out[(template.metadata.namespace, template.metadata.name)] = template
    return out
