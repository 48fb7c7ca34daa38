"""The built-in metrics `request-success-rate` and `request-duration`: which observer's queries apply to a
Canary (Flagger's selection rules), and rendering them. The queries themselves are data, in builtin/*.yaml.

Each observer also has `counts`: the queries the statistical judge reads, for the canary and for the primary,
over the time since the previous evaluation (`{{ window }}`):

    counts:
      unit: ms                 # of the histogram's le bounds (or of duration_sum): s or ms
      requests: sum(increase(<requests>{<canary selector>}[{{ window }}]))
      errors: ...              # the complement of what request-success-rate counts as success
      buckets: sum by (le) (increase(<duration>_bucket{<canary selector>}[{{ window }}]))
      # or, where the observer reads latency only as a mean: duration_sum and duration_count
      primary:                 # how the primary's queries differ from the canary's
        replace: [[<template text>, <its primary counterpart>], ...]   # and/or
        route: primary-revision   # `route` is the primary's revision (Knative)

The primary rule is a rewrite of the template text before rendering, so it can never touch a value that comes from
the Canary; every `replace` pair must occur in every count query (checked when the files are loaded).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final, Literal

import yaml

from serinus.api.capabilities import builtin_observer
from serinus.engine.dialects import PROMETHEUS, Dialect
from serinus.engine.templating import TemplateContext, render
from serinus.errors import InvalidSpecError

SUCCESS_RATE = "request-success-rate"
DURATION = "request-duration"
BUILTINS = (SUCCESS_RATE, DURATION)
DEFAULT_INTERVAL = "1m"
CANARY: Final = "canary"
PRIMARY: Final = "primary"
Version = Literal["canary", "primary"]
_COUNT_KEYS = ("requests", "errors", "buckets", "duration_sum", "duration_count")


@dataclass(frozen=True)
class CountTemplates:
    """An observer's count queries (templates, canary selectors) and the rule that makes them the primary's."""

    requests: str
    errors: str
    unit: str  # of the buckets' le bounds and of duration_sum: "s" or "ms"
    buckets: str = ""  # set where the observer has a latency histogram
    duration_sum: str = ""  # set (with duration_count) where latency is read as a mean only
    duration_count: str = ""
    #: (template text, primary counterpart) pairs, replaced in every count query for the primary
    primary_replace: tuple[tuple[str, str], ...] = ()
    #: the primary's `route`: "" (the canary's), or "primary-revision" (the caller's primary revision, Knative)
    primary_route: str = ""

    def templates(self) -> dict[str, str]:
        """The non-empty count templates by key (requests, errors, buckets | duration_sum + duration_count)."""
        return {key: getattr(self, key) for key in _COUNT_KEYS if getattr(self, key)}


@dataclass(frozen=True)
class CountQueries:
    """The rendered count queries of one version over one window (what the statistical judge reads).

    `buckets` is a `sum by (le)` vector (cumulative counts per upper bound in `unit`); observers without a histogram
    have `duration_sum` / `duration_count` instead (latency as a mean). Every other query is one number.
    """

    version: str
    requests: str
    errors: str
    unit: str
    buckets: str = ""
    duration_sum: str = ""
    duration_count: str = ""

    def all(self) -> tuple[str, ...]:
        """Every query, in a fixed order (requests, errors, then the latency ones)."""
        return tuple(q for q in (self.requests, self.errors, self.buckets, self.duration_sum, self.duration_count) if q)

    def to_ms(self, value: float) -> float:
        """A bound or duration in `unit`, in milliseconds."""
        return value * 1000 if self.unit == "s" else value


@dataclass(frozen=True)
class Observer:
    """One provider's pair of built-in queries, and its count queries for the statistical judge."""

    name: str
    duration_unit: str
    queries: dict[str, str]
    sanitize_names: bool = False
    counts: CountTemplates | None = None


def _counts(observer: str, data: dict[str, object] | None) -> CountTemplates | None:
    """The `counts` block of an observer file, checked: the latency is buckets or sum + count, and every primary
    rewrite applies to every count query (a rewrite that matched nothing would select the canary twice)."""
    if not data:
        return None
    primary = data.get("primary") or {}
    if not isinstance(primary, dict):
        raise ValueError(f"builtin/{observer}.yaml: counts.primary must be a mapping")
    pairs = tuple((str(a), str(b)) for a, b in primary.get("replace") or ())
    counts = CountTemplates(
        requests=str(data["requests"]),
        errors=str(data["errors"]),
        unit=str(data["unit"]),
        buckets=str(data.get("buckets") or ""),
        duration_sum=str(data.get("duration_sum") or ""),
        duration_count=str(data.get("duration_count") or ""),
        primary_replace=pairs,
        primary_route=str(primary.get("route") or ""),
    )
    if counts.unit not in ("s", "ms"):
        raise ValueError(f"builtin/{observer}.yaml: counts.unit must be s or ms")
    if bool(counts.buckets) == bool(counts.duration_sum and counts.duration_count):
        raise ValueError(f"builtin/{observer}.yaml: counts needs buckets, or duration_sum and duration_count")
    if not pairs and counts.primary_route not in ("primary-revision",):
        raise ValueError(f"builtin/{observer}.yaml: counts.primary needs replace pairs or route: primary-revision")
    for key, text in counts.templates().items():
        for old, _ in pairs:
            if old not in text:
                raise ValueError(f"builtin/{observer}.yaml: counts.primary replaces {old!r}, absent from {key}")
    return counts


@cache
def observers() -> dict[str, Observer]:
    """Every observer, loaded once from the package's YAML files."""
    out: dict[str, Observer] = {}
    for entry in resources.files("serinus.metrics").joinpath("builtin").iterdir():
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text())
            out[data["observer"]] = Observer(
                data["observer"],
                data["duration_unit"],
                {k: data[k] for k in BUILTINS},
                bool(data.get("sanitize_names")),
                _counts(data["observer"], data.get("counts")),
            )
    return out


def metrics_provider(
    mesh_provider: str, spec_provider: str | None, target_kind: str, target_api_version: str = ""
) -> str:
    """Flagger's metrics provider string: the global mesh provider, or the Canary's own (unless the global one
    is linkerd), with `:service` appended for plain Service targets."""
    provider = "crossover" if "crossover" in mesh_provider else mesh_provider
    if spec_provider:
        provider = "linkerd" if "linkerd" in mesh_provider else spec_provider
    if target_kind == "Service" and not target_api_version.startswith("serving.knative.dev"):
        provider += ":service"
    return provider


def observer_for(provider: str) -> Observer:
    """The observer for a metrics provider string, as the table of routers says (anything unknown falls back to
    Istio's queries, as in Flagger)."""
    return observers()[builtin_observer(provider)]


def _sanitized(observer: Observer, ctx: TemplateContext) -> TemplateContext:
    """Skipper's names: every non-word character becomes `_` (Flagger's rule for that observer only)."""
    if not observer.sanitize_names:
        return ctx

    def clean(value: str) -> str:
        return re.sub(r"\W", "_", value)

    return dataclasses.replace(
        ctx,
        name=clean(ctx.name),
        namespace=clean(ctx.namespace),
        target=clean(ctx.target),
        service=clean(ctx.service),
        ingress=clean(ctx.ingress),
    )


def builtin_query(observer: Observer, metric: str, ctx: TemplateContext) -> str:
    """The rendered query of a built-in metric (`request-success-rate` or `request-duration`)."""
    return render(observer.queries[metric], _sanitized(observer, ctx))


def window_text(seconds: float) -> str:
    """A window in seconds as a PromQL duration: whole seconds as `37s`, anything else in milliseconds."""
    if seconds <= 0:
        raise InvalidSpecError(f"the count window must be positive, not {seconds:g}s")
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def render_window(template: str, ctx: TemplateContext, window: str, dialect: Dialect = PROMETHEUS) -> str:
    """Render a count query: `{{ window }}` (and `{{ interval }}`) is the time since the previous evaluation."""
    return render(
        template.replace("{{ window }}", "{{ interval }}"), dataclasses.replace(ctx, interval=window), dialect
    )


def count_queries(
    observer: Observer, ctx: TemplateContext, version: Version, window: str, primary_route: str | None = None
) -> CountQueries:
    """The count queries of one version over `window` (a PromQL duration, see window_text).

    `ctx` is the canary's context, as for builtin_query; for `version="primary"` the observer's primary rule
    rewrites the templates (and, for Knative, `route` becomes `primary_route`, the primary's revision, which the
    caller must know). Raises InvalidSpecError when the observer has no count queries or the primary's revision
    is needed and unknown.
    """
    counts = observer.counts
    if counts is None:
        raise InvalidSpecError(f"observer {observer.name} has no count queries")
    ctx = _sanitized(observer, ctx)
    templates = counts.templates()
    if version == PRIMARY:
        for old, new in counts.primary_replace:
            templates = {key: text.replace(old, new) for key, text in templates.items()}
        if counts.primary_route == "primary-revision":
            if not primary_route:
                raise InvalidSpecError(
                    f"observer {observer.name}: the primary's revision is not known, so its counts cannot be selected"
                )
            ctx = dataclasses.replace(ctx, route=primary_route)
    elif version != CANARY:
        raise ValueError(f"version must be canary or primary, not {version!r}")
    rendered = {key: render_window(text, ctx, window) for key, text in templates.items()}
    return CountQueries(version=version, unit=counts.unit, **rendered)


def duration_ms(observer: Observer, value: float) -> int:
    """A request-duration result in whole milliseconds (Flagger truncates; the http observer returns seconds)."""
    return int(value * 1000) if observer.duration_unit == "s" else int(value)
