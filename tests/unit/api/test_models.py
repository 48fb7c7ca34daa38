"""The models read Flagger's manifests and answer with Flagger's defaults."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from serinus.api import (
    AlertProvider,
    AlertProviderType,
    Canary,
    CanaryAnalysis,
    CanaryMetric,
    CanaryPhase,
    CanaryWebhook,
    ConditionStatus,
    CrossNamespaceRef,
    DeploymentStrategy,
    DurationError,
    HookType,
    MetricTemplate,
    SessionAffinity,
    make_promoted_conditions,
)
from serinus.api.service import HTTPRewrite, RewriteType
from serinus.api.status import CanaryCondition, CanaryConditionType
from tests.gomodules import flagger_example, flagger_examples

EXAMPLES = flagger_examples()


def _canary(**analysis: Any) -> Canary:
    return Canary.model_validate(
        {
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": analysis,
            },
        }
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_flagger_example_parses(path: Path) -> None:
    """Each example Canary Flagger ships parses with its name, target and analysis intact."""
    doc = yaml.safe_load(path.read_text())
    canary = Canary.model_validate(doc)
    assert canary.metadata.name == doc["metadata"]["name"]
    assert canary.spec.target_ref.name == doc["spec"]["targetRef"]["name"]
    analysis = canary.get_analysis()
    assert analysis is not None
    assert analysis.interval == doc["spec"]["analysis"]["interval"]
    assert [m.name for m in analysis.metrics] == [m["name"] for m in doc["spec"]["analysis"]["metrics"]]


def test_examples_were_found() -> None:
    """Flagger's module really holds the five example Canaries the tests walk."""
    assert len(EXAMPLES) == 5


def test_wire_form_round_trips_an_example() -> None:
    """to_dict() of a parsed example gives back the manifest (omitempty), and parsing it again is equal."""
    doc = yaml.safe_load(flagger_example("istio-abtest").read_text())
    canary = Canary.model_validate(doc)
    assert canary.to_dict() == doc
    assert Canary.model_validate(canary.to_dict()) == canary


def test_abtest_example_is_ab_testing_with_header_matches() -> None:
    """The A/B example has strategy ab-testing and keeps the regex header conditions."""
    canary = Canary.model_validate(yaml.safe_load(flagger_example("istio-abtest").read_text()))
    assert canary.deployment_strategy() is DeploymentStrategy.AB_TESTING
    analysis = canary.get_analysis()
    assert analysis is not None
    assert analysis.match[0].headers["cookie"].regex == "^(.*?;)?(type=insider)(;.*)?$"
    assert canary.spec.service is not None
    assert canary.spec.service.match[0].uri is not None
    assert canary.spec.service.match[0].uri.prefix == "/"


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [
        ("", 60.0),
        ("1m", 60.0),
        ("15s", 15.0),
        ("5s", 10.0),
        ("1m30s", 90.0),
        ("2x", 60.0),
        ("10500ms", 10.5),
    ],
)
def test_analysis_interval_defaults_and_floor(interval: str, seconds: float) -> None:
    """Interval: 60s if unset or unparsable, raised to 10s, else the Go duration (GetAnalysisInterval)."""
    assert CanaryAnalysis(interval=interval).interval_seconds() == seconds


@pytest.mark.parametrize(("threshold", "effective"), [(0, 1), (-3, 1), (1, 1), (7, 7)])
def test_threshold_is_one_when_not_positive(threshold: int, effective: int) -> None:
    """Threshold <= 0 counts as 1 (GetAnalysisThreshold)."""
    assert CanaryAnalysis(threshold=threshold).effective_threshold() == effective


@pytest.mark.parametrize(
    ("fields", "max_weight"),
    [
        ({}, 100),
        ({"maxWeight": 50}, 50),
        ({"maxWeight": -1}, 100),
        ({"stepWeights": [5, 10, 55]}, 55),
        ({"stepWeights": [50, 150]}, 100),
        ({"stepWeights": [5], "maxWeight": 80}, 5),
    ],
)
def test_max_weight_from_step_weights_or_max_weight(fields: dict[str, Any], max_weight: int) -> None:
    """maxWeight is min(100, last step) with stepWeights, else maxWeight when positive, else 100."""
    assert CanaryAnalysis.model_validate(fields).effective_max_weight() == max_weight


def test_ready_thresholds_default_to_100_but_keep_an_explicit_zero() -> None:
    """Ready thresholds are pointers in Go: unset means 100, an explicit 0 stays 0."""
    assert CanaryAnalysis().effective_primary_ready_threshold() == 100
    assert CanaryAnalysis().effective_canary_ready_threshold() == 100
    explicit = CanaryAnalysis.model_validate({"primaryReadyThreshold": 0, "canaryReadyThreshold": 50})
    assert explicit.effective_primary_ready_threshold() == 0
    assert explicit.effective_canary_ready_threshold() == 50


@pytest.mark.parametrize(
    ("fields", "strategy"),
    [
        ({"stepWeight": 10}, DeploymentStrategy.CANARY),
        ({"iterations": 5}, DeploymentStrategy.BLUE_GREEN),
        ({"iterations": 5, "match": [{"headers": {"x": {"exact": "1"}}}]}, DeploymentStrategy.AB_TESTING),
        ({"stepWeight": 10, "match": [{"headers": {"x": {"exact": "1"}}}]}, DeploymentStrategy.CANARY),
    ],
)
def test_deployment_strategy(fields: dict[str, Any], strategy: DeploymentStrategy) -> None:
    """Match + iterations is A/B, iterations alone blue/green, anything else canary."""
    assert CanaryAnalysis.model_validate(fields).deployment_strategy() is strategy


def test_progress_deadline_defaults_to_600_but_keeps_zero() -> None:
    """progressDeadlineSeconds is a pointer: unset is 600, 0 stays 0."""
    canary = _canary(interval="1m", threshold=1, stepWeight=10)
    assert canary.progress_deadline_seconds() == 600
    canary.spec.progress_deadline_seconds = 0
    assert canary.progress_deadline_seconds() == 0


def test_service_names_follow_service_name_else_target() -> None:
    """Apex is service.name or targetRef.name; primary workload is always <target>-primary."""
    canary = _canary(interval="1m", threshold=1, stepWeight=10)
    assert canary.service_names() == ("podinfo", "podinfo-primary", "podinfo-canary")
    assert canary.spec.service is not None
    canary.spec.service.name = "web"
    assert canary.service_names() == ("web", "web-primary", "web-canary")
    assert canary.primary_workload_name() == "podinfo-primary"


def test_canary_analysis_is_the_deprecated_alias_of_analysis() -> None:
    """spec.canaryAnalysis is used when spec.analysis is unset; with neither, analysis is skipped."""
    doc = {
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a"},
            "canaryAnalysis": {"interval": "30s", "threshold": 2, "iterations": 3},
        }
    }
    canary = Canary.model_validate(doc)
    assert canary.analysis_interval_seconds() == 30.0
    assert canary.analysis_threshold() == 2
    assert canary.deployment_strategy() is DeploymentStrategy.BLUE_GREEN
    assert canary.skip_analysis() is False
    del doc["spec"]["canaryAnalysis"]
    bare = Canary.model_validate(doc)
    assert bare.skip_analysis() is True
    assert bare.analysis_interval_seconds() == 60.0


def test_metric_interval_defaults_only_for_builtins_and_queries() -> None:
    """Built-in and inline-query metrics default to 1m; a templateRef metric keeps its empty interval (QUIRK)."""
    assert CanaryMetric(name="request-success-rate").interval_or_default() == "1m"
    assert CanaryMetric(name="custom", query="up").interval_or_default() == "1m"
    assert CanaryMetric(name="custom", template_ref=CrossNamespaceRef(name="t")).interval_or_default() == ""
    assert CanaryMetric(name="request-duration", interval="30s").interval_or_default() == "30s"


@pytest.mark.parametrize(("timeout", "seconds"), [("", 10.0), ("5", 10.0), ("15s", 15.0), ("1m", 60.0)])
def test_webhook_timeout_defaults_to_10s_when_shorter_than_two_characters(timeout: str, seconds: float) -> None:
    """Webhook timeout is 10s when its text is shorter than 2 characters, else the Go duration."""
    assert CanaryWebhook(name="h", url="http://x/", timeout=timeout).timeout_seconds() == seconds


def test_webhook_timeout_that_is_not_a_duration_raises_gos_error() -> None:
    """A timeout Go cannot parse raises DurationError with Go's message."""
    with pytest.raises(DurationError, match='time: unknown unit "x" in duration "5x"'):
        CanaryWebhook(name="h", url="http://x/", timeout="5x").timeout_seconds()


def test_webhook_type_and_tls_alias() -> None:
    """An empty hook type means rollout; disableTLS keeps its Go spelling on the wire."""
    hook = CanaryWebhook.model_validate({"name": "h", "url": "http://x/", "disableTLS": True})
    assert hook.effective_type() is HookType.ROLLOUT
    assert hook.disable_tls is True
    assert hook.to_dict() == {"name": "h", "url": "http://x/", "disableTLS": True}
    assert CanaryAnalysis.model_validate({"webhooks": [hook.to_dict()]}).webhooks_of(HookType.ROLLOUT) == [hook]


def test_session_affinity_max_age_and_cookie() -> None:
    """maxAge defaults to 86400 (and 0 means 86400); Set-Cookie attributes come in Flagger's order."""
    affinity = SessionAffinity.model_validate(
        {
            "cookieName": "canary",
            "domain": "example.com",
            "httpOnly": True,
            "partitioned": True,
            "path": "/",
            "sameSite": "Strict",
            "secure": True,
        }
    )
    assert affinity.max_age == 86400
    assert SessionAffinity(cookie_name="c", max_age=0).max_age_seconds() == 86400
    assert affinity.build_cookie("canary=abc", 60) == (
        "canary=abc; Max-Age=60; Domain=example.com; HttpOnly; Partitioned; Path=/; SameSite=Strict; Secure"
    )
    assert SessionAffinity(cookie_name="c").build_cookie("c=v", -1) == "c=v; Max-Age=-1"


def test_rewrite_type_defaults_to_full_path() -> None:
    """Only ReplacePrefixMatch is kept; anything else is ReplaceFullPath (GetType)."""
    assert HTTPRewrite(type="ReplacePrefixMatch").effective_type() is RewriteType.REPLACE_PREFIX_MATCH
    assert HTTPRewrite(type="bogus").effective_type() is RewriteType.REPLACE_FULL_PATH
    assert HTTPRewrite().effective_type() is RewriteType.REPLACE_FULL_PATH


def test_knative_target_is_recognised() -> None:
    """A Service target is Knative only with apiVersion serving.knative.dev/v1."""
    doc = {"spec": {"targetRef": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "a"}}}
    assert Canary.model_validate(doc).spec.target_ref.is_knative_service()
    doc["spec"]["targetRef"]["apiVersion"] = "v1"
    assert not Canary.model_validate(doc).spec.target_ref.is_knative_service()


def test_status_with_promoted_condition_parses() -> None:
    """A status as Flagger writes it parses, times included, and prints times the way metav1.Time does."""
    canary = _canary(interval="1m", threshold=1, stepWeight=10)
    status = {
        "phase": "Succeeded",
        "failedChecks": 0,
        "canaryWeight": 0,
        "iterations": 0,
        "lastAppliedSpec": "5d4b7c",
        "lastPromotedSpec": "5d4b7c",
        "lastTransitionTime": "2024-05-01T10:00:00Z",
        "trackedConfigs": {"configmap/podinfo-config": "8e2f1a3b4c5d6e7f"},
        "conditions": [
            {
                "type": "Promoted",
                "status": "True",
                "reason": "Succeeded",
                "message": "Canary analysis completed successfully, promotion finished.",
                "lastUpdateTime": "2024-05-01T10:00:00Z",
                "lastTransitionTime": "2024-05-01T09:00:00+00:00",
            }
        ],
    }
    parsed = Canary.model_validate(canary.to_dict() | {"status": status})
    assert parsed.status.phase is CanaryPhase.SUCCEEDED
    promoted = parsed.status.condition(CanaryConditionType.PROMOTED)
    assert promoted is not None
    assert promoted.status == ConditionStatus.TRUE
    assert parsed.to_dict()["status"]["conditions"][0]["lastTransitionTime"] == "2024-05-01T09:00:00Z"


def test_unknown_phase_is_rejected() -> None:
    """status.phase outside Flagger's enum does not parse."""
    with pytest.raises(ValidationError):
        Canary.model_validate(_canary().to_dict() | {"status": {"phase": "Paused"}})


T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("phase", "status", "message"),
    [
        (CanaryPhase.INITIALIZING, ConditionStatus.UNKNOWN, "New Deployment detected, starting initialization."),
        (CanaryPhase.INITIALIZED, ConditionStatus.TRUE, "Deployment initialization completed."),
        (CanaryPhase.WAITING, ConditionStatus.UNKNOWN, "Waiting for approval."),
        (CanaryPhase.PROGRESSING, ConditionStatus.UNKNOWN, "New revision detected, progressing canary analysis."),
        (CanaryPhase.WAITING_PROMOTION, ConditionStatus.UNKNOWN, "Waiting for approval."),
        (CanaryPhase.PROMOTING, ConditionStatus.UNKNOWN, "Canary analysis completed, starting primary rolling update."),
        (CanaryPhase.FINALISING, ConditionStatus.UNKNOWN, "Canary analysis completed, routing all traffic to primary."),
        (CanaryPhase.SUCCEEDED, ConditionStatus.TRUE, "Canary analysis completed successfully, promotion finished."),
        (CanaryPhase.FAILED, ConditionStatus.FALSE, "Canary analysis failed, Deployment scaled to zero."),
        (CanaryPhase.TERMINATING, ConditionStatus.UNKNOWN, "New Deployment detected, starting initialization."),
    ],
)
def test_promoted_condition_per_phase(phase: CanaryPhase, status: ConditionStatus, message: str) -> None:
    """Each phase gives the Promoted condition Flagger writes: status, reason = phase, message."""
    conditions = make_promoted_conditions([], phase, "Deployment", T0)
    assert conditions is not None
    (condition,) = conditions
    assert (condition.type, condition.status, condition.reason, condition.message) == (
        CanaryConditionType.PROMOTED,
        status,
        phase.value,
        message,
    )
    assert condition.last_transition_time == condition.last_update_time == T0


def test_promoted_condition_unchanged_when_status_and_reason_match() -> None:
    """Same status and reason: conditions stay as they are (None)."""
    current = make_promoted_conditions([], CanaryPhase.PROGRESSING, "Deployment", T0)
    assert current is not None
    assert make_promoted_conditions(current, CanaryPhase.PROGRESSING, "Deployment", T1) is None


def test_promoted_condition_keeps_transition_time_when_only_reason_changes() -> None:
    """Same status, new reason: a new condition that keeps the old lastTransitionTime."""
    current = [
        CanaryCondition(
            type=CanaryConditionType.PROMOTED,
            status=ConditionStatus.UNKNOWN,
            reason="Progressing",
            last_transition_time=T0,
            last_update_time=T0,
        )
    ]
    new = make_promoted_conditions(current, CanaryPhase.PROMOTING, "Deployment", T1)
    assert new is not None
    assert new[0].last_transition_time == T0
    assert new[0].last_update_time == T1
    flipped = make_promoted_conditions(current, CanaryPhase.SUCCEEDED, "Deployment", T1)
    assert flipped is not None
    assert flipped[0].last_transition_time == T1


def test_metric_template_parses() -> None:
    """A Prometheus MetricTemplate with headers, secret and TLS flag parses."""
    template = MetricTemplate.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "MetricTemplate",
            "metadata": {"name": "error-rate", "namespace": "test"},
            "spec": {
                "provider": {
                    "type": "prometheus",
                    "address": "http://prometheus:9090",
                    "headers": {"X-Scope-OrgID": ["tenant"]},
                    "secretRef": {"name": "prom-auth"},
                    "insecureSkipVerify": True,
                },
                "query": 'sum(rate(http_requests_total{namespace="{{ namespace }}"}[{{ interval }}]))',
            },
        }
    )
    assert template.spec.provider.headers == {"X-Scope-OrgID": ["tenant"]}
    assert template.spec.provider.secret_ref is not None
    assert template.spec.provider.secret_ref.name == "prom-auth"


@pytest.mark.parametrize("kind", [t.value for t in AlertProviderType])
def test_alert_provider_accepts_flaggers_types_and_ours(kind: str) -> None:
    """slack, msteams, discord, rocket, gchat, webhook and alertmanager are all AlertProvider types."""
    provider = AlertProvider.model_validate(
        {"metadata": {"name": "on-call"}, "spec": {"type": kind, "address": "https://hooks.example.com/x"}}
    )
    assert provider.spec.type == kind
    assert provider.spec.channel_or_default() == "general"
    assert provider.spec.username_or_default() == "flagger"


def test_alert_provider_types_are_exactly_flaggers_plus_two() -> None:
    """The type enum is Flagger's five plus webhook and alertmanager."""
    assert {t.value for t in AlertProviderType} == {
        "slack",
        "msteams",
        "discord",
        "rocket",
        "gchat",
        "webhook",
        "alertmanager",
    }


def test_alert_provider_rejects_an_unknown_type() -> None:
    """An AlertProvider of type pagerduty does not parse."""
    with pytest.raises(ValidationError):
        AlertProvider.model_validate({"spec": {"type": "pagerduty", "address": "https://x"}})


def test_unknown_fields_are_kept_not_dropped() -> None:
    """A field the model does not know stays in model_extra and survives to_dict()."""
    canary = Canary.model_validate(_canary().to_dict() | {"spec": _canary().to_dict()["spec"] | {"foo": 1}})
    assert canary.spec.model_extra == {"foo": 1}
    assert canary.to_dict()["spec"]["foo"] == 1
