"""The built-in metrics `request-success-rate` and `request-duration`: which observer's queries apply to a
Canary (Flagger's selection rules), and rendering them. The queries themselves are data, in builtin/*.yaml."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from serinus.engine.templating import TemplateContext, render

SUCCESS_RATE = "request-success-rate"
DURATION = "request-duration"
BUILTINS = (SUCCESS_RATE, DURATION)
DEFAULT_INTERVAL = "1m"


@dataclass(frozen=True)
class Observer:
    """One provider's pair of built-in queries."""

    name: str
    duration_unit: str
    queries: dict[str, str]
    sanitize_names: bool = False


@cache
def observers() -> dict[str, Observer]:
    """Every observer, loaded once from the package's YAML files."""
    out: dict[str, Observer] = {}
    for entry in resources.files("serinus.metrics").joinpath("builtin").iterdir():
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text())
            out[data["observer"]] = Observer(data["observer"], data["duration_unit"],
                                             {k: data[k] for k in BUILTINS}, bool(data.get("sanitize_names")))
    return out


def metrics_provider(mesh_provider: str, spec_provider: str | None, target_kind: str,
                     target_api_version: str = "") -> str:
    """Flagger's metrics provider string: the global mesh provider, or the Canary's own (unless the global one
    is linkerd), with `:service` appended for plain Service targets."""
    provider = "crossover" if "crossover" in mesh_provider else mesh_provider
    if spec_provider:
        provider = "linkerd" if "linkerd" in mesh_provider else spec_provider
    if target_kind == "Service" and not target_api_version.startswith("serving.knative.dev"):
        provider += ":service"
    return provider


def observer_for(provider: str) -> Observer:
    """The observer for a metrics provider string; anything unknown falls back to Istio, as in Flagger."""
    name = "istio"
    if provider.startswith("appmesh"):
        name = "appmesh"
    elif provider.startswith("gloo"):
        name = "gloo"
    elif provider == "kubernetes" or provider.startswith("gatewayapi"):
        name = "http"
    elif provider in ("linkerd", "istio", "contour", "nginx", "skipper", "traefik", "osm", "kuma", "apisix",
                      "knative"):
        name = provider
    return observers()[name]


def builtin_query(observer: Observer, metric: str, ctx: TemplateContext) -> str:
    """The rendered query of a built-in metric (`request-success-rate` or `request-duration`)."""
    if observer.sanitize_names:
        def clean(value: str) -> str:
            return re.sub(r"\W", "_", value)

        ctx = dataclasses.replace(ctx, name=clean(ctx.name), namespace=clean(ctx.namespace),
                                  target=clean(ctx.target), service=clean(ctx.service), ingress=clean(ctx.ingress))
    return render(observer.queries[metric], ctx)


def duration_ms(observer: Observer, value: float) -> int:
    """A request-duration result in whole milliseconds (Flagger truncates; the http observer returns seconds)."""
    return int(value * 1000) if observer.duration_unit == "s" else int(value)
