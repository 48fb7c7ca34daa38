"""Rules that need the target workload's manifest, when it is at hand (for `serinus validate` beside a Deployment)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serinus.api.canary import Canary
from serinus.api.problems import Problem, error, one_of, show
from serinus.api.refs import TargetKind
from serinus.api.rules.context import RuleContext

_SELECTED = (TargetKind.DEPLOYMENT, TargetKind.DAEMON_SET, TargetKind.STATEFUL_SET)


def _match_labels(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = workload.get("spec")
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def workload_rules(canary: Canary, context: RuleContext) -> list[Problem]:
    """The target's selector carries one of the selector labels; a DaemonSet updates by RollingUpdate; no other
    Canary targets the same workload."""
    ref = canary.spec.target_ref
    namespace = canary.metadata.namespace
    out: list[Problem] = []
    others = [
        name
        for name in context.canaries_by_target.get((namespace, ref.kind.value, ref.name), ())
        if name != canary.metadata.name
    ]
    if others:
        out.append(
            error(
                ("spec", "targetRef"),
                f"{ref.kind.value} {ref.name} is also the target of "
                f"{one_of([f'canary/{n}' for n in others], 'and')}; two Canaries would fight over it",
                "shared-target",
                f"Bad things will happen! Found more than one canary with the same target "
                f"{ref.kind.value.lower()}.{ref.name}",
            )
        )
    workload = context.workload(namespace, ref.kind.value, ref.name)
    if workload is None or ref.kind not in _SELECTED:
        return out
    labels = _match_labels(workload)
    if not any(key in labels for key in context.selector_labels):
        word = ref.kind.value.lower()
        out.append(
            error(
                ("spec", "targetRef"),
                f"{ref.kind.value} {ref.name} selects its pods by "
                f"{show(dict(labels))}; its spec.selector.matchLabels needs one of "
                f"{one_of(list(context.selector_labels))} (the operator's selector labels)",
                "selector-labels",
                f"{word} {ref.name}.{namespace} spec.selector.matchLabels must contain one of "
                f"[{' '.join(context.selector_labels)}]",
            )
        )
    if ref.kind is TargetKind.DAEMON_SET:
        spec = workload.get("spec")
        strategy = spec.get("updateStrategy") if isinstance(spec, Mapping) else None
        kind = strategy.get("type", "") if isinstance(strategy, Mapping) else ""
        if kind and kind != "RollingUpdate":
            out.append(
                error(
                    ("spec", "targetRef"),
                    f"DaemonSet {ref.name} updates with {kind}; a canary needs updateStrategy RollingUpdate",
                    "daemonset-strategy",
                    f"daemonset {ref.name}.{namespace} must have RollingUpdate strategy but have {kind}",
                )
            )
    return out
