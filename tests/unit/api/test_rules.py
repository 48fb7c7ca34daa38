"""Each run-time rule of Flagger (and Serinus) turns one broken manifest into one precise message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from serinus.api import Canary, MetricTemplate
from serinus.api.check import check_object, context_for
from serinus.api.problems import Severity
from serinus.api.rules import RuleContext, check_canary

Doc = dict[str, Any]

BASE: Doc = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "provider": "istio",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {
            "interval": "1m",
            "threshold": 5,
            "maxWeight": 50,
            "stepWeight": 10,
            "metrics": [{"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}}],
            "webhooks": [{"name": "load-test", "url": "http://flagger-loadtester.test/", "timeout": "5s"}],
        },
    },
}


def canary(change: Callable[[Doc], object]) -> Doc:
    """A copy of BASE changed by `change` (which edits it in place)."""
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def spec(doc: Doc) -> Doc:
    """The spec of a manifest."""
    result: Doc = doc["spec"]
    return result


def analysis(doc: Doc) -> Doc:
    """The analysis of a manifest."""
    result: Doc = doc["spec"]["analysis"]
    return result


def _steps(doc: Doc, weights: list[int]) -> None:
    del analysis(doc)["stepWeight"], analysis(doc)["maxWeight"]
    analysis(doc)["stepWeights"] = weights


def _problems(doc: Doc, context: RuleContext | None = None) -> list[str]:
    return [str(p) for p in check_object(doc, context).problems]


def test_base_canary_is_clean() -> None:
    """The manifest every case starts from has no problem at all, so each case below shows one rule."""
    assert _problems(BASE) == []


ERRORS: list[tuple[str, Callable[[Doc], object], str]] = [
    (
        "step weights descending",
        lambda d: _steps(d, [20, 10]),
        "spec.analysis.stepWeights: must be ascending, got [20, 10]",
    ),
    (
        "step weights repeated",
        lambda d: _steps(d, [10, 10, 20]),
        "spec.analysis.stepWeights: must not repeat a weight (the canary would stop there), got [10, 10, 20]",
    ),
    (
        "step weight zero",
        lambda d: _steps(d, [0, 50]),
        "spec.analysis.stepWeights: every weight must be between 1 and 100, got [0, 50]",
    ),
    (
        "step weight above 100",
        lambda d: _steps(d, [50, 120]),
        "spec.analysis.stepWeights: every weight must be between 1 and 100, got [50, 120]",
    ),
    (
        "no strategy",
        lambda d: analysis(d).update(stepWeight=0),
        "spec.analysis: must set one of iterations, stepWeight or stepWeights to a positive value; "
        "without one the canary never gets traffic",
    ),
    (
        "strategy missing altogether",
        lambda d: analysis(d).pop("stepWeight"),
        "spec.analysis: must set one of iterations, stepWeight or stepWeights",
    ),
    (
        "two strategies",
        lambda d: analysis(d).update(iterations=10),
        "spec.analysis: must set only one of iterations, stepWeight or stepWeights, got iterations and stepWeight",
    ),
    (
        "max weight above 100",
        lambda d: analysis(d).update(maxWeight=150),
        "spec.analysis.maxWeight: must be between 0 and 100, got 150; the canary would never reach it and never be "
        "promoted",
    ),
    (
        "ready threshold above 100",
        lambda d: analysis(d).update(primaryReadyThreshold=101),
        "spec.analysis.primaryReadyThreshold: must be between 0 and 100, got 101",
    ),
    (
        "cookie names equal",
        lambda d: analysis(d).update(sessionAffinity={"cookieName": "c", "primaryCookieName": "c"}),
        'spec.analysis.sessionAffinity.primaryCookieName: must differ from cookieName, both are "c"',
    ),
    (
        "knative target with istio",
        lambda d: spec(d)["targetRef"].update(apiVersion="serving.knative.dev/v1", kind="Service"),
        'spec.provider: must be knative for a Knative Service target, got "istio"',
    ),
    (
        "knative provider with a Deployment",
        lambda d: spec(d).update(provider="knative"),
        "spec.targetRef: must be a Knative Service (apiVersion serving.knative.dev/v1, kind Service) with provider "
        "knative, got apps/v1 Deployment",
    ),
    (
        "autoscaler with knative",
        lambda d: spec(d).update(
            provider="knative",
            targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "podinfo"},
            autoscalerRef={"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo"},
        ),
        "spec.autoscalerRef: cannot be used with a Knative Service target, Knative scales it",
    ),
    (
        "gateway api without gatewayRefs",
        lambda d: spec(d).update(provider="gatewayapi:v1"),
        "spec.service.gatewayRefs: is required with provider gatewayapi:v1: the generated HTTPRoute must attach to a "
        "Gateway (or, for a mesh, a Service)",
    ),
    (
        "nginx without ingressRef",
        lambda d: spec(d).update(provider="nginx"),
        "spec.ingressRef: is required with provider nginx: it names the Ingress to copy for the canary",
    ),
    (
        "skipper without ingressRef",
        lambda d: spec(d).update(provider="skipper"),
        "spec.ingressRef: is required with provider skipper: it names the Ingress to copy for the canary",
    ),
    (
        "apisix without routeRef",
        lambda d: spec(d).update(provider="apisix"),
        "spec.routeRef: is required with provider apisix: it names the ApisixRoute to copy for the canary",
    ),
    (
        "appmesh without meshName",
        lambda d: spec(d).update(provider="appmesh"),
        "spec.service.meshName: is required with provider appmesh (App Mesh v1beta1)",
    ),
    (
        "delegation with hosts",
        lambda d: spec(d)["service"].update(delegation=True, hosts=["app.example.com"]),
        "spec.service.delegation: a delegate VirtualService has no hosts and no gateways; remove spec.service.hosts "
        "and spec.service.gateways or turn delegation off",
    ),
    (
        "gateway api prefix header match",
        lambda d: spec(d).update(
            provider="gatewayapi:v1",
            service={
                "port": 9898,
                "gatewayRefs": [{"name": "gw"}],
                "match": [{"headers": {"x-canary": {"prefix": "yes"}}}],
            },
        ),
        "spec.service.match[0].headers.x-canary: must be an exact or regex match for Gateway API (prefix and suffix "
        "are not supported)",
    ),
    (
        "gateway api method prefix",
        lambda d: spec(d).update(
            provider="gatewayapi:v1beta1",
            service={"port": 9898, "gatewayRefs": [{"name": "gw"}], "match": [{"method": {"prefix": "G"}}]},
        ),
        "spec.service.match[0].method: must be an exact match for Gateway API",
    ),
    (
        "gateway api empty uri",
        lambda d: spec(d).update(
            provider="gatewayapi:v1", service={"port": 9898, "gatewayRefs": [{"name": "gw"}], "match": [{"uri": {}}]}
        ),
        "spec.service.match[0].uri: must set exact, prefix or regex for Gateway API",
    ),
    (
        "gateway api query prefix",
        lambda d: spec(d).update(
            provider="gatewayapi:v1",
            service={"port": 9898, "gatewayRefs": [{"name": "gw"}], "match": [{"queryParams": {"v": {"prefix": "2"}}}]},
        ),
        "spec.service.match[0].queryParams.v: must be an exact or regex match for Gateway API (prefix and suffix are "
        "not supported)",
    ),
    (
        "gateway api A/B suffix",
        lambda d: (
            spec(d).update(provider="gatewayapi:v1", service={"port": 9898, "gatewayRefs": [{"name": "gw"}]}),
            analysis(d).pop("stepWeight"),
            analysis(d).pop("maxWeight"),
            analysis(d).update(iterations=5, match=[{"headers": {"user-agent": {"suffix": "Firefox"}}}]),
        ),
        "spec.analysis.match[0].headers.user-agent: must be an exact or regex match for Gateway API (prefix and "
        "suffix are not supported)",
    ),
    (
        "gateway api fractional timeout",
        lambda d: spec(d).update(
            provider="gatewayapi:v1", service={"port": 9898, "gatewayRefs": [{"name": "gw"}], "timeout": "1.5s"}
        ),
        "spec.service.timeout: must be a Gateway API duration (whole numbers with h, m, s or ms, e.g. 1m30s), "
        'got "1.5s"',
    ),
    (
        "timeout not a duration",
        lambda d: spec(d)["service"].update(timeout="30 seconds"),
        'spec.service.timeout: is not a Go duration (time: unknown unit " seconds" in duration "30 seconds"), e.g. '
        "30s, 1m or 1m30s",
    ),
    (
        "mirror in a canary release on linkerd",
        lambda d: (spec(d).update(provider="linkerd"), analysis(d).update(mirror=True)),
        "spec.analysis.mirror: mirroring in a weighted canary release needs provider istio; with linkerd the release "
        "never gets past the mirror step",
    ),
    (
        "custom metric without source",
        lambda d: analysis(d)["metrics"].append({"name": "error-rate", "threshold": 1}),
        'spec.analysis.metrics[1]: "error-rate" is not built in (request-success-rate, request-duration); it needs '
        "templateRef or query",
    ),
    (
        "metric interval not a duration",
        lambda d: analysis(d)["metrics"][0].update(interval="5mx"),
        'spec.analysis.metrics[0].interval: is not a Go duration (time: unknown unit "mx" in duration "5mx"), e.g. '
        "30s, 1m or 1m30s",
    ),
    (
        "threshold range inverted",
        lambda d: analysis(d)["metrics"][0].update(thresholdRange={"min": 99, "max": 90}),
        "spec.analysis.metrics[0].thresholdRange: min (99) is above max (90); no value can pass",
    ),
    (
        "webhook url without scheme",
        lambda d: analysis(d)["webhooks"][0].update(url="flagger-loadtester.test/"),
        'spec.analysis.webhooks[0].url: must be an absolute http or https URL, got "flagger-loadtester.test/"',
    ),
    (
        "webhook timeout not a duration",
        lambda d: analysis(d)["webhooks"][0].update(timeout="5mx"),
        'spec.analysis.webhooks[0].timeout: is not a Go duration (time: unknown unit "mx" in duration "5mx"), e.g. '
        "30s, 1m or 1m30s",
    ),
    (
        "service missing",
        lambda d: spec(d).pop("service"),
        "spec.service: is required: the apex, primary and canary services are generated from it (at least its port)",
    ),
    (
        "service port out of range",
        lambda d: spec(d)["service"].update(port=70000),
        "spec.service.port: must be a port number between 1 and 65535, got 70000",
    ),
    (
        "target port name invalid",
        lambda d: spec(d)["service"].update(targetPort="HTTP_port"),
        "spec.service.targetPort: must be a port number or a container port name (at most 15 lowercase letters, "
        "digits and '-', with a letter), got \"HTTP_port\"",
    ),
    (
        "service name too long",
        lambda d: spec(d)["service"].update(name="a" * 60),
        "spec.service.name: is 60 characters; the generated service " + "a" * 60 + "-primary would exceed "
        "Kubernetes' 63",
    ),
    (
        "service name not a DNS label",
        lambda d: spec(d)["service"].update(name="Pod.Info"),
        "spec.service.name: must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter) to "
        'name the generated services, got "Pod.Info"',
    ),
    (
        "mirror filter without backend",
        lambda d: spec(d).update(
            provider="gatewayapi:v1", service={"port": 9898, "gatewayRefs": [{"name": "gw"}], "mirror": [{}]}
        ),
        "spec.service.mirror[0].backendRef: is required: a mirror filter needs a backend to send copies of the "
        "requests to",
    ),
    (
        "scaler bounds inverted",
        lambda d: spec(d).update(
            autoscalerRef={
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
                "primaryScalerReplicas": {"minReplicas": 5, "maxReplicas": 2},
            }
        ),
        "spec.autoscalerRef.primaryScalerReplicas: minReplicas (5) is above maxReplicas (2)",
    ),
    (
        "negative progress deadline",
        lambda d: spec(d).update(progressDeadlineSeconds=-1),
        "spec.progressDeadlineSeconds: must not be negative, got -1",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in ERRORS], ids=[n for n, _, _ in ERRORS])
def test_broken_manifest_fails_with_the_expected_message(change: Callable[[Doc], object], expected: str) -> None:
    """The broken manifest is invalid, and the error names the field and says what is wrong, word for word."""
    report = check_object(canary(change))
    assert not report.valid
    assert expected in [str(p) for p in report.errors], [str(p) for p in report.problems]


WARNINGS: list[tuple[str, Callable[[Doc], object], str]] = [
    (
        "interval below 10s",
        lambda d: analysis(d).update(interval="5s"),
        "spec.analysis.interval: is below the 10s minimum; the analysis runs every 10s",
    ),
    (
        "interval unparsable",
        lambda d: analysis(d).update(interval="5mx"),
        'spec.analysis.interval: is not a Go duration (time: unknown unit "mx" in duration "5mx"); Flagger falls back '
        "to 60s",
    ),
    (
        "threshold zero",
        lambda d: analysis(d).update(threshold=0),
        "spec.analysis.threshold: is 0; Flagger treats it as 1 (roll back on the first failed check)",
    ),
    (
        "maxWeight with stepWeights",
        lambda d: (analysis(d).pop("stepWeight"), analysis(d).update(stepWeights=[10, 30])),
        "spec.analysis.maxWeight: is ignored with stepWeights; the last step (30) is the max weight",
    ),
    (
        "threshold and range",
        lambda d: analysis(d)["metrics"][0].update(threshold=99),
        "spec.analysis.metrics[0].threshold: is ignored when thresholdRange is set",
    ),
    (
        "template metric without interval",
        lambda d: analysis(d)["metrics"].append({"name": "errors", "templateRef": {"name": "error-rate"}}),
        "spec.analysis.metrics[1].interval: is not set; a templateRef metric gets no default, "
        "so {{ interval }} renders "
        "empty (and datadog, cloudwatch, newrelic, dynatrace and splunk templates fail)",
    ),
    (
        "duplicate webhook names",
        lambda d: analysis(d)["webhooks"].append(dict(analysis(d)["webhooks"][0])),
        'spec.analysis.webhooks[1].name: "load-test" is used twice; events and logs would mix them up',
    ),
    (
        "rollout hooks longer than the interval",
        lambda d: analysis(d)["webhooks"][0].update(timeout="2m"),
        "spec.analysis.webhooks: the rollout webhooks may take 120s together, longer than the 60s analysis interval",
    ),
    (
        "A/B on linkerd",
        lambda d: (
            spec(d).update(provider="linkerd"),
            analysis(d).pop("stepWeight"),
            analysis(d).pop("maxWeight"),
            analysis(d).update(iterations=5, match=[{"headers": {"x": {"exact": "1"}}}]),
        ),
        "spec.analysis.match: is ignored by provider linkerd (A/B routing works with istio, contour, gloo, nginx, "
        "gatewayapi and appmesh)",
    ),
    (
        "A/B on kubernetes",
        lambda d: (
            spec(d).update(provider="kubernetes"),
            analysis(d).pop("stepWeight"),
            analysis(d).pop("maxWeight"),
            analysis(d).update(iterations=5, match=[{"headers": {"x": {"exact": "1"}}}]),
        ),
        "spec.analysis.match: is ignored: the kubernetes provider cannot route by request",
    ),
    (
        "weights on kubernetes",
        lambda d: spec(d).update(provider="kubernetes"),
        "spec.analysis: the kubernetes provider cannot shift traffic progressively; Flagger runs a blue/green release "
        "of 10 iterations instead",
    ),
    (
        "blue/green mirror on contour",
        lambda d: (
            spec(d).update(provider="contour"),
            analysis(d).pop("stepWeight"),
            analysis(d).pop("maxWeight"),
            analysis(d).update(iterations=5, mirror=True),
        ),
        "spec.analysis.mirror: is ignored by provider contour (blue/green mirroring needs istio or gatewayapi)",
    ),
    (
        "mirrorWeight without mirror",
        lambda d: analysis(d).update(mirrorWeight=50),
        "spec.analysis.mirrorWeight: is ignored without mirror: true",
    ),
    (
        "session affinity on linkerd",
        lambda d: (spec(d).update(provider="linkerd"), analysis(d).update(sessionAffinity={"cookieName": "c"})),
        "spec.analysis.sessionAffinity: is ignored by provider linkerd (cookie affinity works with istio and "
        "gatewayapi)",
    ),
    (
        "primary cookie on gatewayapi:v1beta1",
        lambda d: (
            spec(d).update(provider="gatewayapi:v1beta1", service={"port": 9898, "gatewayRefs": [{"name": "gw"}]}),
            analysis(d).update(sessionAffinity={"cookieName": "c", "primaryCookieName": "p"}),
        ),
        "spec.analysis.sessionAffinity.primaryCookieName: is ignored by provider gatewayapi:v1beta1 (only istio and "
        "gatewayapi:v1 keep a primary cookie)",
    ),
    (
        "upstreamRef without gloo",
        lambda d: spec(d).update(upstreamRef={"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "u"}),
        "spec.upstreamRef: is only used by the gloo provider; ignored with istio",
    ),
    (
        "scaler queries on an HPA",
        lambda d: spec(d).update(
            autoscalerRef={
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
                "primaryScalerQueries": {"t": "q"},
            }
        ),
        "spec.autoscalerRef.primaryScalerQueries: is only used with a KEDA ScaledObject; ignored for a "
        "HorizontalPodAutoscaler",
    ),
    (
        "unknown field",
        lambda d: analysis(d).update(stepWeigth=5),
        "spec.analysis.stepWeigth: unknown field, the API server drops it; did you mean stepWeight?",
    ),
    (
        "snake case field",
        lambda d: spec(d).update(skip_analysis=True),
        "spec.skip_analysis: unknown field, the API server drops it; did you mean skipAnalysis?",
    ),
    (
        "null field",
        lambda d: analysis(d).update(alerts=None),
        "spec.analysis.alerts: is empty (null), the API server drops it",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in WARNINGS], ids=[n for n, _, _ in WARNINGS])
def test_questionable_manifest_is_valid_with_the_expected_warning(
    change: Callable[[Doc], object], expected: str
) -> None:
    """The manifest is still valid (Flagger runs it), and the warning says what Flagger will really do."""
    report = check_object(canary(change))
    assert report.valid, [str(p) for p in report.errors]
    assert f"warning: {expected}" in [str(p) for p in report.warnings]


def test_flagger_texts_ride_along_for_events() -> None:
    """Rules that mirror a Flagger error carry Flagger's own words, for status conditions and events."""
    doc = canary(
        lambda d: (
            spec(d).update(provider="nginx"),
            analysis(d).update(sessionAffinity={"cookieName": "c", "primaryCookieName": "c"}),
        )
    )
    texts = {p.rule: p.flagger_message for p in check_object(doc).problems}
    assert texts["ingress-ref"] == "ingress selector is empty"
    assert texts["session-affinity-cookies"] == (
        "can't use the same cookie name for both primary and cookie name; please update them to be different"
    )


def test_delegation_message_names_the_virtual_service_like_flagger() -> None:
    """Flagger's delegation error names <apex>.<namespace>; ours carries the same text."""
    doc = canary(lambda d: spec(d)["service"].update(delegation=True, gateways=["gw"], name="web"))
    (problem,) = [p for p in check_object(doc).problems if p.rule == "istio-delegation"]
    assert problem.flagger_message == "VirtualService web.test cannot have hosts and gateways when delegation enabled"


def test_unset_provider_follows_the_mesh_provider_flag() -> None:
    """Without spec.provider the operator's default decides: nginx then needs an ingressRef."""
    doc = canary(lambda d: spec(d).pop("provider"))
    assert check_object(doc).valid
    report = check_object(doc, RuleContext(mesh_provider="nginx"))
    assert "spec.ingressRef: is required with provider nginx: it names the Ingress to copy for the canary" in [
        str(p) for p in report.errors
    ]


def test_unknown_mesh_provider_falls_back_to_istio_with_a_warning() -> None:
    """An unknown operator default is Flagger's istio fallback, reported as a warning."""
    doc = canary(lambda d: spec(d).pop("provider"))
    report = check_object(doc, RuleContext(mesh_provider="envoy"))
    assert report.valid
    assert 'warning: spec.provider: the operator\'s mesh provider "envoy" is unknown; Flagger uses istio' in [
        str(p) for p in report.problems
    ]


def test_cross_namespace_references_are_errors_only_with_the_flag() -> None:
    """templateRef, providerRef and upstreamRef into another namespace fail under -no-cross-namespace-refs."""
    doc = canary(
        lambda d: (
            analysis(d)["metrics"].append(
                {"name": "e", "interval": "1m", "templateRef": {"name": "t", "namespace": "x"}}
            ),
            analysis(d).update(alerts=[{"name": "a", "providerRef": {"name": "p", "namespace": "x"}}]),
            spec(d).update(
                provider="gloo",
                upstreamRef={"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "u", "namespace": "x"},
            ),
        )
    )
    assert check_object(doc).valid
    report = check_object(doc, RuleContext(no_cross_namespace_refs=True))
    assert sorted(p.flagger_message for p in report.errors) == [
        "can't access alert provider p.x, cross-namespace references are blocked",
        "can't access gloo upstream u.x, cross-namespace references are blocked",
        "can't access metric template t.x, cross-namespace references are blocked",
    ]


def test_template_metric_without_interval_is_an_error_when_the_template_needs_one() -> None:
    """With the MetricTemplate at hand, a datadog template makes a missing interval an error."""
    doc = canary(lambda d: analysis(d)["metrics"].append({"name": "errors", "templateRef": {"name": "dd"}}))
    template = MetricTemplate.model_validate(
        {
            "metadata": {"name": "dd", "namespace": "test"},
            "spec": {"provider": {"type": "datadog", "secretRef": {"name": "dd"}}, "query": "avg:errors{*}"},
        }
    )
    report = check_object(doc, RuleContext(templates={("test", "dd"): template}))
    assert (
        "spec.analysis.metrics[1].interval: is required: MetricTemplate dd uses datadog, whose client is built "
        "from the interval" in [str(p) for p in report.errors]
    )


def test_template_metric_interval_matters_only_when_the_query_uses_it() -> None:
    """With a Prometheus template at hand: {{ interval }} in the query makes the interval required, else no word."""
    doc = canary(lambda d: analysis(d)["metrics"].append({"name": "errors", "templateRef": {"name": "t"}}))

    def prometheus(query: str) -> RuleContext:
        template = MetricTemplate.model_validate(
            {
                "metadata": {"name": "t", "namespace": "test"},
                "spec": {"provider": {"type": "prometheus", "address": "http://p"}, "query": query},
            }
        )
        return RuleContext(templates={("test", "t"): template})

    uses = check_object(doc, prometheus('sum(rate(errors{app="{{ target }}"}[{{ interval }}]))'))
    assert [str(p) for p in uses.errors] == [
        "spec.analysis.metrics[1].interval: is required: the query of MetricTemplate t uses {{ interval }}, which "
        "renders empty without it"
    ]
    assert check_object(doc, prometheus('sum(errors{app="{{ target }}"})')).problems == ()


def test_canary_analysis_alias_is_checked_and_flagged() -> None:
    """canaryAnalysis gets the same rules plus a deprecation warning; via the API server analysis is missing."""
    doc = canary(lambda d: spec(d).update(canaryAnalysis=spec(d).pop("analysis")))
    report = check_object(doc)
    assert "spec.analysis: is required" in [str(p) for p in report.errors]
    model = Canary.model_validate(doc)
    model.spec.canary_analysis.step_weights = [20, 10]  # type: ignore[union-attr]
    found = [str(p) for p in check_canary(model)]
    assert "spec.canaryAnalysis.stepWeights: must be ascending, got [20, 10]" in found
    assert (
        "warning: spec.canaryAnalysis: is deprecated and not in the CRD, so the API server drops it; rename it "
        "to analysis"
    ) in found


def test_knative_canary_needs_no_service() -> None:
    """A Knative canary with provider knative and no spec.service is valid."""
    doc = canary(
        lambda d: (
            spec(d).pop("service"),
            spec(d).update(
                provider="knative",
                targetRef={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "podinfo"},
            ),
        )
    )
    assert check_object(doc).errors == []


def test_rule_problems_carry_severity_and_rule_ids() -> None:
    """Every finding has a rule id, and errors and warnings are told apart."""

    def change(d: Doc) -> None:
        _steps(d, [20, 10])
        analysis(d).update(threshold=0)

    doc = canary(change)
    problems = check_object(doc).problems
    assert {(p.rule, p.severity) for p in problems} == {
        ("step-weights-order", Severity.ERROR),
        ("threshold", Severity.WARNING),
    }


def _workload(kind: str, labels: dict[str, str], **spec: Any) -> Doc:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"selector": {"matchLabels": labels}, **spec},
    }


def test_target_selector_needs_a_selector_label() -> None:
    """A target whose matchLabels has none of the operator's selector labels is an error, with Flagger's text."""
    doc = copy.deepcopy(BASE)
    context = context_for([doc, _workload("Deployment", {"run": "podinfo"})])
    (problem,) = check_object(doc, context).errors
    assert problem.flagger_message == (
        "deployment podinfo.test spec.selector.matchLabels must contain one of [app name app.kubernetes.io/name]"
    )
    assert check_object(doc, context_for([doc, _workload("Deployment", {"app.kubernetes.io/name": "p"})])).valid
    assert check_object(doc, context_for([doc, _workload("Deployment", {"run": "p"})], selector_labels=["run"])).valid


def test_daemonset_target_needs_rolling_update() -> None:
    """A DaemonSet target updated OnDelete cannot be a canary target (Flagger refuses it)."""
    doc = canary(lambda d: spec(d)["targetRef"].update(kind="DaemonSet"))
    context = context_for([doc, _workload("DaemonSet", {"app": "podinfo"}, updateStrategy={"type": "OnDelete"})])
    assert [str(p) for p in check_object(doc, context).errors] == [
        "spec.targetRef: DaemonSet podinfo updates with OnDelete; a canary needs updateStrategy RollingUpdate"
    ]
    rolling = context_for([doc, _workload("DaemonSet", {"app": "podinfo"}, updateStrategy={"type": "RollingUpdate"})])
    assert check_object(doc, rolling).valid


def test_two_canaries_on_one_target_are_an_error() -> None:
    """Two Canaries with the same target fight; both are told ('Bad things will happen!' in Flagger's log)."""
    first = copy.deepcopy(BASE)
    second = canary(lambda d: d["metadata"].update(name="podinfo-2"))
    context = context_for([first, second])
    assert [str(p) for p in check_object(first, context).errors] == [
        "spec.targetRef: Deployment podinfo is also the target of canary/podinfo-2; two Canaries would fight over it"
    ]
    (problem,) = check_object(second, context).errors
    assert (
        problem.flagger_message == "Bad things will happen! Found more than one canary with the same target "
        "deployment.podinfo"
    )
