"""The statistical judge's settings: each rule turns one broken setting into one problem at one exact path.

Both forms are covered: the spec fields (`spec.analysis.judge`, `spec.analysis.metrics[].judge`) and the
`serinus.io/judge` annotations, whose problems name the annotation key and the field inside it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from serinus.api import Canary
from serinus.api.check import check_object
from serinus.api.problems import Problem, Severity
from serinus.api.rules import check_canary

Doc = dict[str, Any]

#: A weighted istio canary with the judge on and nothing to complain about.
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
            "judge": {"mode": "statistical"},
            "metrics": [
                {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
                {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
            ],
        },
    },
}

ERROR, WARNING = Severity.ERROR, Severity.WARNING
JUDGE_ANNOTATION = 'metadata.annotations["serinus.io/judge"]'


def canary(change: Callable[[Doc], object]) -> Doc:
    """A copy of BASE changed by `change` (which edits it in place)."""
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def analysis(doc: Doc) -> Doc:
    """The analysis of a manifest."""
    result: Doc = doc["spec"]["analysis"]
    return result


def metric(doc: Doc, index: int) -> Doc:
    """One metric of a manifest."""
    result: Doc = doc["spec"]["analysis"]["metrics"][index]
    return result


def annotate(doc: Doc, **annotations: str) -> Doc:
    """Set annotations; `judge` is serinus.io/judge and `judge_<name>` is serinus.io/judge-<name>."""
    keys = {key: "serinus.io/" + key.replace("_", "-") for key in annotations}
    doc["metadata"].setdefault("annotations", {}).update({keys[k]: v for k, v in annotations.items()})
    return doc


def judge_off(doc: Doc) -> Doc:
    """No analysis judge block at all: Flagger's rule."""
    del analysis(doc)["judge"]
    return doc


def blue_green(doc: Doc) -> Doc:
    """Iterations instead of weights: a blue/green release."""
    del analysis(doc)["stepWeight"], analysis(doc)["maxWeight"]
    analysis(doc)["iterations"] = 10
    return doc


def add_custom(doc: Doc, **judge: Any) -> Doc:
    """A third metric from an inline query, with a judge block."""
    analysis(doc)["metrics"].append(
        {"name": "errors", "interval": "1m", "query": "sum(errors)", "thresholdRange": {"max": 1}, "judge": judge}
    )
    return doc


def _problems(doc: Doc) -> list[Problem]:
    return list(check_object(doc).problems)


def test_base_is_clean() -> None:
    """The judge on a weighted canary with bounded built-in metrics has no problem, so each case shows one rule."""
    assert [str(p) for p in _problems(BASE)] == []


def test_a_flagger_canary_gets_no_judge_problem() -> None:
    """Without any judge setting nothing here applies: a Flagger Canary is checked as before."""
    doc = canary(judge_off)
    assert [p for p in _problems(doc) if p.rule.startswith("judge")] == []


def test_valid_annotations_are_clean() -> None:
    """The annotation form, written correctly, is as clean as the spec form."""
    doc = canary(
        lambda d: (
            judge_off(d),
            annotate(
                d,
                judge="mode: statistical\nfalseRollbackRate: 0.01\nmaxHold: 45m\nmetrics:\n  request-duration:\n"
                "    kind: histogram\n    bounds: [auto]\n",
                judge_request_success_rate="{rollbackAt: {ratio: 2, delta: '0.1%'}, promoteBelow: {ratio: 5}}",
            ),
        )
    )
    assert [str(p) for p in _problems(doc)] == []


CASES: list[tuple[str, Callable[[Doc], object], str, Severity, str, str]] = [
    # the annotations: YAML and schema
    (
        "annotation is not YAML",
        lambda d: (judge_off(d), annotate(d, judge="mode: [statistical")),
        JUDGE_ANNOTATION,
        ERROR,
        "judge-annotation",
        "is not valid YAML",
    ),
    (
        "annotation is not a mapping",
        lambda d: (judge_off(d), annotate(d, judge="statistical")),
        JUDGE_ANNOTATION,
        ERROR,
        "judge-annotation",
        "must be a YAML mapping",
    ),
    (
        "annotation field of the wrong type",
        lambda d: annotate(d, judge="falseRollbackRate: '0.05'"),
        f"{JUDGE_ANNOTATION}.falseRollbackRate",
        ERROR,
        "judge-annotation",
        'must be a number, got string "0.05"',
    ),
    (
        "annotation enum",
        lambda d: annotate(d, judge="onInconclusive: wait"),
        f"{JUDGE_ANNOTATION}.onInconclusive",
        ERROR,
        "judge-annotation",
        "must be one of",
    ),
    (
        "metric annotation field of the wrong value",
        lambda d: annotate(d, judge_request_duration="kind: histo"),
        'metadata.annotations["serinus.io/judge-request-duration"].kind',
        ERROR,
        "judge-annotation",
        "must be one of",
    ),
    (
        "metric inside the judge annotation",
        lambda d: annotate(d, judge="metrics: {request-duration: {advisory: maybe}}"),
        f"{JUDGE_ANNOTATION}.metrics.request-duration.advisory",
        ERROR,
        "judge-annotation",
        "must be true or false",
    ),
    (
        "unknown field in an annotation",
        lambda d: annotate(d, judge="falseRollback: 0.01"),
        f"{JUDGE_ANNOTATION}.falseRollback",
        WARNING,
        "unknown-field",
        "the judge ignores it",
    ),
    # one block's values
    (
        "false rollback rate zero",
        lambda d: analysis(d)["judge"].update(falseRollbackRate=0),
        "spec.analysis.judge.falseRollbackRate",
        ERROR,
        "judge-rate",
        "must be above 0 and at most 0.5",
    ),
    (
        "missed regression rate above 0.5",
        lambda d: analysis(d)["judge"].update(missedRegressionRate=0.6),
        "spec.analysis.judge.missedRegressionRate",
        ERROR,
        "judge-rate",
        "got 0.6",
    ),
    (
        "rate in the annotation",
        lambda d: (judge_off(d), annotate(d, judge="mode: statistical\nfalseRollbackRate: 0.7")),
        f"{JUDGE_ANNOTATION}.falseRollbackRate",
        ERROR,
        "judge-rate",
        "must be above 0 and at most 0.5",
    ),
    (
        "max hold not a duration",
        lambda d: analysis(d)["judge"].update(maxHold="30mx"),
        "spec.analysis.judge.maxHold",
        ERROR,
        "judge-max-hold",
        "is not a Go duration",
    ),
    (
        "max hold shorter than the interval",
        lambda d: analysis(d)["judge"].update(maxHold="30s"),
        "spec.analysis.judge.maxHold",
        ERROR,
        "judge-max-hold",
        "is 30s, shorter than the 60s analysis interval",
    ),
    (
        "rollback ratio not above 1",
        lambda d: metric(d, 0).update(judge={"rollbackAt": {"ratio": 1}}),
        "spec.analysis.metrics[0].judge.rollbackAt.ratio",
        ERROR,
        "judge-effect",
        "must be above 1",
    ),
    (
        "promote ratio below the rollback ratio",
        lambda d: metric(d, 0).update(judge={"rollbackAt": {"ratio": 3}, "promoteBelow": {"ratio": 2}}),
        "spec.analysis.metrics[0].judge.promoteBelow.ratio",
        ERROR,
        "judge-effect",
        "must be at least rollbackAt.ratio (3), got 2",
    ),
    (
        "promote ratio below the default rollback ratio",
        lambda d: metric(d, 0).update(judge={"promoteBelow": {"ratio": 1.5}}),
        "spec.analysis.metrics[0].judge.promoteBelow.ratio",
        ERROR,
        "judge-effect",
        "must be at least the default rollbackAt.ratio (2), got 1.5",
    ),
    (
        "delta above 100%",
        lambda d: metric(d, 0).update(judge={"rollbackAt": {"delta": "150%"}}),
        "spec.analysis.metrics[0].judge.rollbackAt.delta",
        ERROR,
        "judge-effect",
        "must be at most 100%",
    ),
    (
        "ratio kind on a custom metric without badQuery",
        lambda d: add_custom(d, kind="ratio", requestsQuery="r"),
        "spec.analysis.metrics[2].judge.badQuery",
        ERROR,
        "judge-queries",
        "is required: kind ratio on a custom metric",
    ),
    (
        "ratio kind on a custom metric without requestsQuery",
        lambda d: add_custom(d, kind="ratio", badQuery="b"),
        "spec.analysis.metrics[2].judge.requestsQuery",
        ERROR,
        "judge-queries",
        "is required",
    ),
    (
        "one count query without a kind",
        lambda d: add_custom(d, requestsQuery="r"),
        "spec.analysis.metrics[2].judge.requestsQuery",
        WARNING,
        "judge-queries",
        "is ignored without badQuery; the metric is judged as scalar",
    ),
    (
        "histogram kind on a custom metric without bucketsQuery",
        lambda d: add_custom(d, kind="histogram"),
        "spec.analysis.metrics[2].judge.bucketsQuery",
        ERROR,
        "judge-queries",
        "is required: kind histogram",
    ),
    (
        "absolute kind without a thresholdRange",
        lambda d: (metric(d, 0).pop("thresholdRange"), metric(d, 0).update(judge={"kind": "absolute"})),
        "spec.analysis.metrics[0].judge.kind",
        ERROR,
        "judge-kind",
        "absolute needs the metric's thresholdRange",
    ),
    (
        "kind a built-in metric cannot have",
        lambda d: metric(d, 0).update(judge={"kind": "histogram"}),
        "spec.analysis.metrics[0].judge.kind",
        ERROR,
        "judge-kind",
        "request-success-rate can be judged as ratio or absolute, not histogram",
    ),
    (
        "absolute kind on a custom metric without maxBadShare",
        lambda d: add_custom(d, kind="absolute", requestsQuery="r", badQuery="b"),
        "spec.analysis.metrics[2].judge.maxBadShare",
        ERROR,
        "judge-kind",
        "is required: kind absolute on a custom metric tests the canary's share of bad requests",
    ),
    (
        "absolute kind on a custom metric without count queries",
        lambda d: add_custom(d, kind="absolute", maxBadShare="1%", requestsQuery="r"),
        "spec.analysis.metrics[2].judge.badQuery",
        ERROR,
        "judge-queries",
        "is required: kind absolute",
    ),
    (
        "maxBadShare that is not a share",
        lambda d: add_custom(d, requestsQuery="r", badQuery="b", maxBadShare="low"),
        "spec.analysis.metrics[2].judge.maxBadShare",
        ERROR,
        "schema",
        "must be text matching",
    ),
    (
        "maxBadShare in an annotation that is not a share",
        lambda d: (add_custom(d, requestsQuery="r", badQuery="b"), annotate(d, judge_errors="maxBadShare: low")),
        'metadata.annotations["serinus.io/judge-errors"].maxBadShare',
        ERROR,
        "judge-annotation",
        "must be text matching",
    ),
    (
        "maxBadShare of 100%",
        lambda d: add_custom(d, requestsQuery="r", badQuery="b", maxBadShare="100%"),
        "spec.analysis.metrics[2].judge.maxBadShare",
        ERROR,
        "judge-max-bad-share",
        "must be above 0% and below 100%",
    ),
    (
        "maxBadShare on a built-in metric",
        lambda d: metric(d, 0).update(judge={"maxBadShare": "1%"}),
        "spec.analysis.metrics[0].judge.maxBadShare",
        WARNING,
        "judge-max-bad-share",
        "is ignored: request-success-rate takes its absolute bound from thresholdRange",
    ),
    (
        "maxBadShare on a scalar metric",
        lambda d: add_custom(d, maxBadShare="1%"),
        "spec.analysis.metrics[2].judge.maxBadShare",
        WARNING,
        "judge-max-bad-share",
        "is ignored: only a metric with requestsQuery and badQuery has a bad share, and this one is judged as scalar",
    ),
    (
        "bucketsQuery without kind histogram",
        lambda d: metric(d, 0).update(judge={"bucketsQuery": "b"}),
        "spec.analysis.metrics[0].judge.bucketsQuery",
        WARNING,
        "judge-buckets-query",
        "is ignored: only kind histogram reads it, and this metric is judged as ratio",
    ),
    (
        "bound that is not a number",
        lambda d: metric(d, 1).update(judge={"bounds": ["auto", "fast"]}),
        "spec.analysis.metrics[1].judge.bounds[1]",
        ERROR,
        "judge-bounds",
        "must be auto or a latency bound",
    ),
    (
        "bounds on a ratio metric",
        lambda d: metric(d, 0).update(judge={"bounds": ["250"]}),
        "spec.analysis.metrics[0].judge.bounds",
        WARNING,
        "judge-bounds",
        "is ignored",
    ),
    (
        "direction neither increase nor decrease",
        lambda d: add_custom(d, direction="sideways"),
        "spec.analysis.metrics[2].judge.direction",
        ERROR,
        "judge-direction",
        "must be increase",
    ),
    (
        "latency histogram on nginx",
        lambda d: (
            d["spec"].update(
                provider="nginx",
                ingressRef={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"},
            ),
            metric(d, 1).update(judge={"kind": "histogram"}),
        ),
        "spec.analysis.metrics[1].judge.kind",
        WARNING,
        "judge-histogram-data",
        "exports no latency histogram",
    ),
    # the settings in effect
    (
        "metric block while the judge is off",
        lambda d: (judge_off(d), metric(d, 0).update(judge={"advisory": True})),
        "spec.analysis.metrics[0].judge",
        WARNING,
        "judge-off",
        "does nothing: the judge is off",
    ),
    (
        "metric annotation while the judge is off",
        lambda d: (judge_off(d), annotate(d, judge_request_success_rate="advisory: true")),
        'metadata.annotations["serinus.io/judge-request-success-rate"]',
        WARNING,
        "judge-off",
        "does nothing",
    ),
    (
        "analysis settings in threshold mode",
        lambda d: analysis(d).update(judge={"mode": "threshold", "falseRollbackRate": 0.01}),
        "spec.analysis.judge",
        WARNING,
        "judge-off",
        "sets falseRollbackRate, which do nothing: the judge is off (spec.analysis.judge.mode is threshold)",
    ),
    (
        "annotation for a metric the canary lacks",
        lambda d: annotate(d, judge_latency="kind: scalar"),
        'metadata.annotations["serinus.io/judge-latency"]',
        WARNING,
        "judge-metric-name",
        'names the metric "latency", which this Canary does not have',
    ),
    (
        "metric the canary lacks inside the judge annotation",
        lambda d: annotate(d, judge="metrics: {latency: {}}"),
        f"{JUDGE_ANNOTATION}.metrics.latency",
        WARNING,
        "judge-metric-name",
        "which this Canary does not have",
    ),
    (
        "statistical blue/green without mirroring",
        blue_green,
        "spec.analysis.judge.mode",
        WARNING,
        "judge-traffic",
        "blue/green release without mirroring",
    ),
    (
        "statistical blue/green from the annotation",
        lambda d: (blue_green(d), judge_off(d), annotate(d, judge="mode: statistical")),
        f"{JUDGE_ANNOTATION}.mode",
        WARNING,
        "judge-traffic",
        "set baseline: none",
    ),
    (
        "statistical A/B testing",
        lambda d: (blue_green(d), analysis(d).update(match=[{"headers": {"x-canary": {"exact": "insider"}}}])),
        "spec.analysis.judge.mode",
        WARNING,
        "judge-traffic",
        "A/B testing release that routes by header or cookie",
    ),
    (
        "statistical with apisix",
        lambda d: d["spec"].update(
            provider="apisix", routeRef={"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "podinfo"}
        ),
        "spec.analysis.judge.mode",
        WARNING,
        "judge-traffic",
        "the primary's requests cannot be told apart",
    ),
    (
        "statistical with the kubernetes provider",
        lambda d: (d["spec"].update(provider="kubernetes"), blue_green(d)),
        "spec.analysis.judge.mode",
        WARNING,
        "judge-traffic",
        "blue/green",
    ),
    (
        "scalar metric window shorter than the interval",
        lambda d: (add_custom(d), metric(d, 2).update(interval="30s")),
        "spec.analysis.metrics[2].interval",
        WARNING,
        "judge-metric-interval",
        "is shorter than the 60s analysis interval, so the judge would skip the requests in between",
    ),
    (
        "default scalar metric window shorter than the interval",
        lambda d: (analysis(d).update(interval="2m"), add_custom(d), metric(d, 2).pop("interval")),
        "spec.analysis.metrics[2]",
        WARNING,
        "judge-metric-interval",
        "(1m) is shorter than the 120s",
    ),
    (
        "built-in metric without a thresholdRange",
        lambda d: metric(d, 1).pop("thresholdRange"),
        "spec.analysis.metrics[1]",
        WARNING,
        "judge-absolute",
        "promotions will mostly wait until maxHold",
    ),
    (
        "custom ratio metric with a thresholdRange but no maxBadShare",
        lambda d: add_custom(d, requestsQuery="r", badQuery="b"),
        "spec.analysis.metrics[2]",
        WARNING,
        "judge-absolute",
        "is judged against the primary only: its thresholdRange is Flagger's check",
    ),
    (
        "no baseline and no thresholdRange",
        lambda d: (analysis(d)["judge"].update(baseline="none"), add_custom(d), metric(d, 2).pop("thresholdRange")),
        "spec.analysis.metrics[2]",
        WARNING,
        "judge-absolute",
        "nothing tests this metric",
    ),
    (
        "both forms of the analysis block",
        lambda d: annotate(d, judge="mode: statistical\nmaxHold: 1h"),
        f"{JUDGE_ANNOTATION}.mode",
        WARNING,
        "judge-both-forms",
        "is also set in spec.analysis.judge.mode, which wins",
    ),
    (
        "both forms of a metric block",
        lambda d: (
            metric(d, 0).update(judge={"advisory": True}),
            annotate(d, judge_request_success_rate="advisory: false"),
        ),
        'metadata.annotations["serinus.io/judge-request-success-rate"]',
        WARNING,
        "judge-both-forms",
        "is ignored: spec.analysis.metrics[0].judge is set and wins",
    ),
    (
        "a metric in both annotations",
        lambda d: annotate(
            d, judge="metrics: {request-duration: {advisory: true}}", judge_request_duration="advisory: false"
        ),
        f"{JUDGE_ANNOTATION}.metrics.request-duration",
        WARNING,
        "judge-both-forms",
        'is ignored: metadata.annotations["serinus.io/judge-request-duration"] is also set for this metric and wins',
    ),
    (
        "five decisive metrics",
        lambda d: analysis(d)["metrics"].extend(
            {"name": f"custom-{i}", "query": "q", "thresholdRange": {"max": 1}} for i in range(3)
        ),
        "spec.analysis.metrics",
        WARNING,
        "judge-metric-count",
        "5 metrics decide",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "severity", "rule", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_reports_at_the_exact_path(
    change: Callable[[Doc], object], path: str, severity: Severity, rule: str, words: str
) -> None:
    """The broken setting gives one problem of the expected severity at the expected field path."""
    problems = _problems(canary(change))
    found = [p for p in problems if p.rule == rule and p.where == path]
    assert [(p.where, p.severity) for p in found] == [(path, severity)], [f"{p} [{p.rule}]" for p in problems]
    assert words in found[0].message


def test_annotation_errors_leave_the_object_invalid() -> None:
    """A broken annotation is an error of the Canary, as a broken field would be."""
    report = check_object(canary(lambda d: annotate(d, judge="falseRollbackRate: high")))
    assert not report.valid
    assert [str(p) for p in report.errors] == [
        f'{JUDGE_ANNOTATION}.falseRollbackRate: must be a number, got string "high"'
    ]


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("blue/green with baseline none", lambda d: (blue_green(d), analysis(d)["judge"].update(baseline="none"))),
        ("blue/green mirrored on istio", lambda d: (blue_green(d), analysis(d).update(mirror=True))),
        (
            "one of five metrics advisory",
            lambda d: analysis(d)["metrics"].extend(
                [
                    {"name": "custom-0", "query": "q", "thresholdRange": {"max": 1}},
                    {"name": "custom-1", "query": "q", "thresholdRange": {"max": 1}},
                    {"name": "custom-2", "query": "q", "thresholdRange": {"max": 1}, "judge": {"advisory": True}},
                ]
            ),
        ),
        (
            "ratio kind with both count queries",
            lambda d: add_custom(d, kind="ratio", requestsQuery="r", badQuery="b", maxBadShare="1%"),
        ),
        (
            "custom ratio metric without a thresholdRange",
            lambda d: (add_custom(d, requestsQuery="r", badQuery="b"), metric(d, 2).pop("thresholdRange")),
        ),
        (
            "absolute kind on a custom metric",
            lambda d: add_custom(d, kind="absolute", requestsQuery="r", badQuery="b", maxBadShare="0.5%"),
        ),
        (
            "absolute custom metric with baseline none",
            lambda d: (
                analysis(d)["judge"].update(baseline="none"),
                add_custom(d, kind="absolute", requestsQuery="r", badQuery="b", maxBadShare="1"),
            ),
        ),
        (
            "promote ratio equal to the rollback ratio",
            lambda d: metric(d, 0).update(judge={"rollbackAt": {"ratio": 3}, "promoteBelow": {"ratio": 3}}),
        ),
        ("max hold equal to the interval", lambda d: analysis(d)["judge"].update(maxHold="1m")),
        (
            "count queries cover the time since the last step",
            lambda d: (
                metric(d, 0).update(interval="30s"),
                add_custom(d, requestsQuery="r", badQuery="b", maxBadShare="1%"),
                metric(d, 2).update(interval="30s"),
            ),
        ),
        ("scalar promote ratio above the scalar default", lambda d: add_custom(d, promoteBelow={"ratio": 1.5})),
        ("direction written as up", lambda d: add_custom(d, direction="up")),
        (
            "deprecated threshold as the absolute bound",
            lambda d: (metric(d, 1).pop("thresholdRange"), metric(d, 1).update(threshold=500)),
        ),
        ("annotation fields the spec does not set", lambda d: annotate(d, judge="maxHold: 1h")),
    ],
)
def test_what_is_fine_stays_quiet(name: str, change: Callable[[Doc], object]) -> None:
    """The borders of the rules: these settings are sound and give no problem."""
    assert [f"{p} [{p.rule}]" for p in _problems(canary(change))] == []


def test_a_model_built_in_code_is_checked_too() -> None:
    """Values the CRD pattern would refuse are still caught when the Canary is built in code, not read."""
    doc = canary(lambda d: metric(d, 0).update(judge={"rollbackAt": {"delta": "a lot"}}))
    problems = check_canary(Canary.model_validate(doc))
    assert [(p.where, p.severity, p.rule) for p in problems] == [
        ("spec.analysis.metrics[0].judge.rollbackAt.delta", ERROR, "judge-effect")
    ]


def test_an_unreadable_judge_annotation_is_the_only_judge_problem() -> None:
    """When serinus.io/judge cannot be read, the mode is unknown: its error stands alone, with no guess that the
    judge is off."""
    doc = canary(
        lambda d: (
            judge_off(d),
            metric(d, 1).update(judge={"kind": "histogram"}),
            annotate(d, judge="mode: statistical\nmaxHold: [30m"),
        )
    )
    assert [(p.where, p.severity, p.rule) for p in _problems(doc)] == [(JUDGE_ANNOTATION, ERROR, "judge-annotation")]
