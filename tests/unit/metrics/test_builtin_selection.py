"""Which observer's built-in queries a Canary gets, by Flagger's rules."""

from __future__ import annotations

import pytest

from serinus.engine.templating import TemplateContext
from serinus.metrics.builtin import builtin_query, duration_ms, metrics_provider, observer_for, observers

CTX = TemplateContext(
    name="podinfo",
    namespace="test",
    target="podinfo",
    service="podinfo",
    ingress="podinfo.ing",
    route="podinfo",
    interval="1m",
    variables={},
)


def test_every_flagger_observer_is_shipped() -> None:
    """All thirteen of Flagger's observers have both built-in queries."""
    assert sorted(observers()) == [
        "apisix",
        "appmesh",
        "contour",
        "gloo",
        "http",
        "istio",
        "knative",
        "kuma",
        "linkerd",
        "nginx",
        "osm",
        "skipper",
        "traefik",
    ]


@pytest.mark.parametrize(
    ("mesh", "spec", "kind", "api", "observer"),
    [
        ("istio", None, "Deployment", "apps/v1", "istio"),
        ("istio", "nginx", "Deployment", "apps/v1", "nginx"),
        ("linkerd", "nginx", "Deployment", "apps/v1", "linkerd"),
        ("kubernetes", None, "Deployment", "apps/v1", "http"),
        ("istio", "gatewayapi:v1", "Deployment", "apps/v1", "http"),
        ("istio", "appmesh:v1beta2", "Deployment", "apps/v1", "appmesh"),
        ("istio", "gloo:v2", "Deployment", "apps/v1", "gloo"),
        ("istio", "smi:v1alpha3", "Deployment", "apps/v1", "istio"),
        ("istio", "nginx", "Service", "v1", "istio"),
        ("istio", "knative", "Service", "serving.knative.dev/v1", "knative"),
        ("crossover-envoy", None, "Deployment", "apps/v1", "istio"),
    ],
)
def test_observer_selection(mesh: str, spec: str | None, kind: str, api: str, observer: str) -> None:
    """Provider overrides, the linkerd rule, `:service` targets and the Istio fallback follow Flagger."""
    assert observer_for(metrics_provider(mesh, spec, kind, api)).name == observer


def test_skipper_sanitizes_names() -> None:
    """Skipper's route pattern uses names with every non-word character replaced by `_`."""
    query = builtin_query(observers()["skipper"], "request-success-rate", CTX)
    assert 'route=~"kube(ew)?_test__podinfo_ing_canary__.*__podinfo_canary(_[0-9]+)?"' in query


def test_duration_units() -> None:
    """Durations are truncated to whole milliseconds; the http observer's seconds are converted."""
    assert duration_ms(observers()["istio"], 499.9) == 499
    assert duration_ms(observers()["http"], 0.4999) == 499


def test_knative_route_is_the_latest_revision() -> None:
    """For a Knative target the `route` of the knative observer's queries is the latest created revision."""
    from serinus.api import Canary
    from serinus.metrics.checks import MetricCheck, plan_checks

    canary = Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {
                "provider": "knative",
                "targetRef": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "web"},
                "analysis": {
                    "interval": "1m",
                    "threshold": 2,
                    "stepWeight": 10,
                    "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
                },
            },
        }
    )
    (plan,) = plan_checks(
        canary, mesh_provider="istio", metrics_server="http://p:9090", templates={}, secrets={}, route="web-00002"
    )
    assert isinstance(plan, MetricCheck)
    assert 'envoy_cluster_name=~"prod/web-00002"' in " ".join(plan.query.split())
