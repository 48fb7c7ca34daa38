"""Pure builders for the `<target>-primary` copy of a workload, with Flagger's label and annotation rules.

All functions take and return Kubernetes JSON (dicts) and never mutate their inputs.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from serinus.errors import InvalidSpecError
from serinus.targets.configs import rename_tracked_refs
from serinus.targets.metadata import include_by_prefix, primary_labels, without_toolkit

Obj = Mapping[str, Any]
ID_ANNOTATION = "flagger-id"
DEFAULT_SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")
SIDECARS = frozenset({"istio-proxy", "envoy"})


def primary_name(target: str) -> str:
    """The primary workload's name: always `<target>-primary`."""
    return f"{target}-primary"


def selector_label(workload: Obj, candidates: Iterable[str] = DEFAULT_SELECTOR_LABELS) -> tuple[str, str]:
    """The first candidate label key present in spec.selector.matchLabels, and its value."""
    candidates = list(candidates)
    match = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for key in candidates:
        if key in match:
            return key, str(match[key])
    meta = workload.get("metadata") or {}
    kind = str(workload.get("kind") or "deployment").lower()
    raise InvalidSpecError(
        f"{kind} {meta.get('name')}.{meta.get('namespace')} spec.selector.matchLabels must "
        f"contain one of [{' '.join(candidates)}]"
    )


def pod_annotations(
    annotations: Mapping[str, str] | None, new_id: Callable[[], str] = lambda: str(uuid.uuid4())
) -> dict[str, str]:
    """Pod template annotations for the primary: the target's plus a fresh `flagger-id`, which forces a rollout."""
    out = {k: v for k, v in without_toolkit(annotations).items() if k != ID_ANNOTATION}
    out[ID_ANNOTATION] = new_id()
    return out


def _suffix_selector(selector: dict[str, Any] | None, labels: Iterable[str], target: str) -> None:
    if not selector:
        return
    keys = set(labels)
    for expr in selector.get("matchExpressions") or []:
        if expr.get("key") in keys:
            values = expr.get("values") or []
            for i, value in enumerate(values):
                if value == target:
                    values[i] = primary_name(target)
                    break
    match = selector.get("matchLabels") or {}
    for key, value in list(match.items()):
        if key in keys and value == target:
            match[key] = primary_name(target)


def primary_pod_spec(
    pod_spec: Obj, target: str, selector_labels: Iterable[str], tracked_configs: Collection[str] = ()
) -> dict[str, Any]:
    """The target's pod spec for the primary: references to tracked configs (`<type>/<name>` keys of
    status.trackedConfigs) renamed to their `-primary` copies, and topology-spread / pod-anti-affinity selectors
    that name the target pointed at the primary."""
    spec: dict[str, Any] = copy.deepcopy(dict(pod_spec))
    if tracked_configs:
        rename_tracked_refs(spec, tracked_configs)
    labels = list(selector_labels)
    for constraint in spec.get("topologySpreadConstraints") or []:
        _suffix_selector(constraint.get("labelSelector"), labels, target)
    anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        _suffix_selector((term.get("podAffinityTerm") or {}).get("labelSelector"), labels, target)
    for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        _suffix_selector(term.get("labelSelector"), labels, target)
    return spec


def discovered_ports(containers: Iterable[Obj], port: int, target_port: int | str | None) -> dict[str, int]:
    """Flagger's port discovery: every container port except sidecars' and the one the service already targets."""
    ports: dict[str, int] = {}
    for container in containers:
        if container.get("name") in SIDECARS:
            continue
        for i, p in enumerate(container.get("ports") or []):
            number = int(p.get("containerPort") or 0)
            if target_port in (None, 0, "0", ""):
                served = number == port
            elif isinstance(target_port, int):
                served = number == target_port
            else:
                served = p.get("name") == target_port
            if served:
                continue
            ports[p.get("name") or f"tcp-{container.get('name')}-{i}"] = number
    return ports


@dataclass(frozen=True)
class KindRules:
    """What differs between workload kinds when a primary is created or promoted."""

    kind: str
    #: spec fields copied from the target on creation and on every promotion
    rollout_fields: tuple[str, ...]
    #: spec fields copied only on creation (the apiserver refuses to change them later)
    create_only_fields: tuple[str, ...] = ()
    has_replicas: bool = True
    #: rewrite topology-spread and anti-affinity selectors that name the target (Deployments only, like Flagger)
    rewrite_affinity: bool = True


KINDS = {
    "Deployment": KindRules(
        "Deployment", ("progressDeadlineSeconds", "minReadySeconds", "revisionHistoryLimit", "strategy")
    ),
    "DaemonSet": KindRules(
        "DaemonSet",
        ("minReadySeconds", "revisionHistoryLimit", "updateStrategy"),
        has_replicas=False,
        rewrite_affinity=False,
    ),
    # StatefulSets are ours (Flagger has none); only these spec fields may change after creation.
    "StatefulSet": KindRules(
        "StatefulSet",
        (
            "minReadySeconds",
            "revisionHistoryLimit",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "ordinals",
        ),
        create_only_fields=("serviceName", "volumeClaimTemplates", "podManagementPolicy"),
    ),
}
SCALE_TO_ZERO_SELECTOR = "flagger.app/scale-to-zero"


def check_target(target: Obj) -> None:
    """Reject targets Flagger refuses: a DaemonSet must use the RollingUpdate strategy."""
    if target.get("kind") == "DaemonSet":
        strategy = ((target.get("spec") or {}).get("updateStrategy") or {}).get("type")
        if strategy and strategy != "RollingUpdate":
            meta = target.get("metadata") or {}
            raise InvalidSpecError(
                f"daemonset {meta.get('name')}.{meta.get('namespace')} must have RollingUpdate "
                f"strategy but have {strategy}"
            )


def _rules(target: Obj) -> KindRules:
    return KINDS[str(target.get("kind") or "Deployment")]


def _template(
    target: Obj,
    rules: KindRules,
    label: str,
    primary_value: str,
    selector_labels: Iterable[str],
    tracked_configs: Collection[str],
    new_id: Callable[[], str],
) -> dict[str, Any]:
    template = (target.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    name = (target.get("metadata") or {}).get("name", "")
    if rules.rewrite_affinity:
        pod_spec = primary_pod_spec(template.get("spec") or {}, name, selector_labels, tracked_configs)
    else:
        pod_spec = copy.deepcopy(dict(template.get("spec") or {}))
        rename_tracked_refs(pod_spec, tracked_configs)
    selector = pod_spec.get("nodeSelector")
    if selector and SCALE_TO_ZERO_SELECTOR in selector:
        del selector[SCALE_TO_ZERO_SELECTOR]
    return {
        "metadata": {
            "labels": primary_labels(tmeta.get("labels"), label, primary_value),
            "annotations": pod_annotations(tmeta.get("annotations"), new_id),
        },
        "spec": pod_spec,
    }


def new_primary(
    target: Obj,
    *,
    label: str,
    selector_labels: Iterable[str],
    include_label_prefixes: Iterable[str],
    owner: Mapping[str, Any],
    tracked_configs: Collection[str] = (),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict[str, Any]:
    """The `<target>-primary` workload created on initialization (replicas = target's if > 0, else 1)."""
    rules = _rules(target)
    meta, spec = target.get("metadata") or {}, target.get("spec") or {}
    value = str(((spec.get("selector") or {}).get("matchLabels") or {})[label])
    primary_value = primary_name(value)
    out_spec: dict[str, Any] = {
        "selector": {"matchLabels": {label: primary_value}},
        "template": _template(target, rules, label, primary_value, selector_labels, tracked_configs, new_id),
    }
    if rules.has_replicas:
        replicas = spec.get("replicas")
        out_spec["replicas"] = replicas if isinstance(replicas, int) and replicas > 0 else 1
    for field in (*rules.rollout_fields, *rules.create_only_fields):
        if field in spec:
            out_spec[field] = copy.deepcopy(spec[field])
    return {
        "apiVersion": "apps/v1",
        "kind": rules.kind,
        "metadata": {
            "name": primary_name(meta["name"]),
            "namespace": meta.get("namespace"),
            "labels": primary_labels(
                include_by_prefix(meta.get("labels"), include_label_prefixes), label, primary_value
            ),
            "annotations": without_toolkit(meta.get("annotations")),
            "ownerReferences": [dict(owner)],
        },
        "spec": out_spec,
    }


def promoted_primary(
    primary: Obj,
    target: Obj,
    *,
    label: str,
    selector_labels: Iterable[str],
    include_label_prefixes: Iterable[str],
    has_autoscaler: bool,
    tracked_configs: Collection[str] = (),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict[str, Any]:
    """The primary after promotion: the target's pod template and rollout settings copied over, a new flagger-id."""
    rules = _rules(target)
    out: dict[str, Any] = copy.deepcopy(dict(primary))
    meta, spec = target.get("metadata") or {}, target.get("spec") or {}
    value = str(((spec.get("selector") or {}).get("matchLabels") or {})[label])
    primary_value = primary_name(value)
    ospec = out.setdefault("spec", {})
    for field in rules.rollout_fields:
        if field in spec:
            ospec[field] = copy.deepcopy(spec[field])
        else:
            ospec.pop(field, None)
    if rules.has_replicas and not has_autoscaler and "replicas" in spec:
        ospec["replicas"] = spec["replicas"]
    ospec["template"] = _template(target, rules, label, primary_value, selector_labels, tracked_configs, new_id)
    ometa = out.setdefault("metadata", {})
    ometa["annotations"] = include_by_prefix(meta.get("annotations"), include_label_prefixes)
    ometa["labels"] = primary_labels(
        include_by_prefix(meta.get("labels"), include_label_prefixes), label, primary_value
    )
    return out


#: on the primary workload: the spec it ran before the last promotion, as JSON (Serinus only; Flagger keeps none)
LAST_GOOD_ANNOTATION = "serinus.io/last-good-spec"
#: on the primary workload: "true" once the last good spec was put back, until the next promotion
RESTORED_ANNOTATION = "serinus.io/restored"


def _kept_fields(rules: KindRules) -> tuple[str, ...]:
    return ("template", *rules.rollout_fields, *(("replicas",) if rules.has_replicas else ()))


def with_last_good(promoted: Obj, previous: Obj) -> dict[str, Any]:
    """The promoted primary, annotated with the spec `previous` (the primary before promotion) ran: its template,
    rollout settings and replicas. Only what may change after creation is kept, so restoring it is always a valid
    update."""
    rules = _rules(previous)
    spec = previous.get("spec") or {}
    kept = {f: spec[f] for f in _kept_fields(rules) if f in spec}
    out: dict[str, Any] = copy.deepcopy(dict(promoted))
    annotations = out.setdefault("metadata", {}).get("annotations") or {}
    annotations = {k: v for k, v in annotations.items() if k != RESTORED_ANNOTATION}
    annotations[LAST_GOOD_ANNOTATION] = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    out["metadata"]["annotations"] = annotations
    return out


def restored_primary(primary: Obj, *, has_autoscaler: bool) -> dict[str, Any] | None:
    """The primary given back the spec it ran before its last promotion, marked restored; None when no spec
    was kept or it cannot be read. The replicas stay the autoscaler's when there is one."""
    annotations = (primary.get("metadata") or {}).get("annotations") or {}
    try:
        kept = json.loads(annotations[LAST_GOOD_ANNOTATION])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(kept, dict) or not isinstance(kept.get("template"), dict):
        return None
    rules = _rules(primary)
    out: dict[str, Any] = copy.deepcopy(dict(primary))
    spec = out.setdefault("spec", {})
    for field in _kept_fields(rules):
        if field == "replicas" and has_autoscaler:
            continue
        if field in kept:
            spec[field] = copy.deepcopy(kept[field])
        elif field != "template":
            spec.pop(field, None)
    out["metadata"].setdefault("annotations", {})[RESTORED_ANNOTATION] = "true"
    return out


def is_restored(primary: Obj) -> bool:
    """Whether the primary runs the spec restored_primary put back."""
    return ((primary.get("metadata") or {}).get("annotations") or {}).get(RESTORED_ANNOTATION) == "true"
