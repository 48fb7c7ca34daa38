"""What the run-time rules need to know besides the object: the operator's flags and the objects beside it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from serinus.api.duration import DurationError, parse_duration
from serinus.api.metric_template import MetricTemplate
from serinus.api.problems import Path, Problem, error

DEFAULT_SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")


@dataclass(frozen=True)
class RuleContext:
    """The operator's flags and the MetricTemplates at hand."""

    #: The operator's -mesh-provider, used when spec.provider is unset.
    mesh_provider: str = "istio"
    #: The operator's -no-cross-namespace-refs.
    no_cross_namespace_refs: bool = False
    #: MetricTemplates known by (namespace, name), to check references when they are at hand.
    templates: Mapping[tuple[str, str], MetricTemplate] = field(default_factory=dict)
    #: The operator's -selector-labels: pod selector keys, the first present in matchLabels wins.
    selector_labels: tuple[str, ...] = DEFAULT_SELECTOR_LABELS
    #: Workload manifests at hand (Deployment, DaemonSet, StatefulSet, ...) by (namespace, kind, name).
    workloads: Mapping[tuple[str, str, str], Mapping[str, Any]] = field(default_factory=dict)
    #: Names of the Canaries at hand by the (namespace, kind, name) of their target.
    canaries_by_target: Mapping[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)

    def workload(self, namespace: str, kind: str, name: str) -> Mapping[str, Any] | None:
        """A workload manifest by its key; one written without a namespace matches any."""
        return self.workloads.get((namespace, kind, name)) or self.workloads.get(("", kind, name))


def is_http_url(text: str) -> bool:
    """True for an absolute http or https URL with a host."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def duration_problem(path: Path, text: str, rule: str) -> Problem | None:
    """An error when `text` is not a Go duration."""
    try:
        parse_duration(text)
    except DurationError as err:
        return error(path, f"is not a Go duration ({err}), e.g. 30s, 1m or 1m30s", rule)
    return None
