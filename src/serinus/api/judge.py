"""The statistical judge's settings (Serinus only; every field optional, absent means Flagger's behaviour).

`spec.analysis.judge` chooses how a release is judged; `spec.analysis.metrics[].judge` tunes one metric. The
same blocks may be given as annotations, so a manifest still validates against Flagger's own CRD:

    serinus.io/judge: |              # the analysis block, optionally with `metrics: {<name>: <metric block>}`
      mode: statistical
    serinus.io/judge-request-duration: '{kind: histogram}'

A field in the spec wins over the annotation.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final

from pydantic import Field

from serinus.api.base import ApiModel, Crd

ANNOTATION: Final = "serinus.io/judge"
METRIC_ANNOTATION_PREFIX: Final = "serinus.io/judge-"

_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%?\s*$")
#: a difference in percentage points: `0.1%` or `0.1`
Delta = Annotated[str, Crd(pattern=r"^[0-9]+(\.[0-9]+)?%?$")]


class JudgeMode(StrEnum):
    """How a release is judged."""

    THRESHOLD = "threshold"
    STATISTICAL = "statistical"


class Gate(StrEnum):
    """Where promotion evidence is required."""

    MAX_WEIGHT = "maxWeight"
    EVERY_STEP = "everyStep"
    NONE = "none"


class OnInconclusive(StrEnum):
    """What happens when the evidence stays thin for `maxHold`."""

    FLAGGER = "flagger"
    ROLLBACK = "rollback"
    PROMOTE = "promote"
    PAUSE = "pause"


class Baseline(StrEnum):
    """What the canary is compared with."""

    PRIMARY = "primary"
    NONE = "none"


class MetricKind(StrEnum):
    """The statistical test a metric gets."""

    RATIO = "ratio"
    HISTOGRAM = "histogram"
    ABSOLUTE = "absolute"
    SCALAR = "scalar"


class Effect(ApiModel):
    """An effect size: canary/primary ratio and canary−primary difference (percentage points)."""

    ratio: float | None = Field(default=None, description="Canary/primary ratio, e.g. 2 for twice as bad.")
    delta: Delta | None = Field(default=None, description="Difference in percentage points, e.g. 0.1%.")

    def delta_fraction(self) -> float | None:
        """The difference as a fraction (0.1% -> 0.001)."""
        return percent_fraction(self.delta) if self.delta is not None else None


def percent_fraction(text: str) -> float:
    """`0.1%` or `0.1` (percentage points) as a fraction: 0.001."""
    match = _PERCENT.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a percentage such as 0.1%")
    return float(match.group(1)) / 100


class AnalysisJudge(ApiModel):
    """`spec.analysis.judge`: how the release is judged; absent means `mode: threshold` (Flagger's rule)."""

    mode: JudgeMode = Field(default=JudgeMode.THRESHOLD, description="threshold (Flagger's rule) or statistical.")
    false_rollback_rate: float | None = Field(
        default=None, description="Highest chance of rolling back a canary no worse than the primary; 0.05 if unset."
    )
    missed_regression_rate: float | None = Field(
        default=None, description="Highest chance of promoting a canary worse than the tolerance; 0.05 if unset."
    )
    gate: Gate | None = Field(
        default=None, description="Where promotion needs evidence: maxWeight (default), everyStep or none."
    )
    max_hold: Annotated[str, Crd(pattern=r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)")] = Field(
        default="", description="How long to hold for evidence at the gate before onInconclusive; 30m if unset."
    )
    on_inconclusive: OnInconclusive | None = Field(
        default=None, description="At maxHold: flagger (Flagger's verdict, the default), rollback, promote or pause."
    )
    baseline: Baseline | None = Field(default=None, description="primary (default) or none: absolute tests only.")


class MetricJudge(ApiModel):
    """`spec.analysis.metrics[].judge`: the test of one metric and its tolerances."""

    kind: MetricKind | None = Field(
        default=None,
        description="ratio, histogram, absolute or scalar; inferred for "
        "built-in metrics, scalar for templates without count queries.",
    )
    rollback_at: Effect | None = Field(default=None, description="The regression to roll back on.")
    promote_below: Effect | None = Field(default=None, description="The regression promotion must rule out.")
    requests_query: str = Field(default="", description="Requests over {{ interval }} (ratio kind, custom metric).")
    bad_query: str = Field(default="", description="Bad requests over {{ interval }} (ratio kind, custom metric).")
    max_bad_share: Delta | None = Field(
        default=None,
        description="Custom metrics with count queries: the most bad requests the canary may have "
        "on its own, as a share such as 1%; adds the absolute test (the built-in metrics take it from "
        "thresholdRange).",
    )
    buckets_query: str = Field(default="", description="Histogram bucket counts by le over {{ interval }}.")
    bounds: list[str] = Field(default_factory=list, description="Latency bounds to test (ms) or auto.")
    primary_variables: dict[str, str] = Field(
        default_factory=dict, description="Template variables for the primary's rendering of the queries."
    )
    direction: str = Field(default="", description="Scalar metrics: increase (higher is worse) or decrease.")
    advisory: bool = Field(default=False, description="Shown in the ledger, never decides.")

    def bad_share_bound(self) -> float | None:
        """maxBadShare as a fraction (1% -> 0.01), None when unset. Raises ValueError saying what the value must be
        (callers add where it is and what it was) when it is not a share above 0 % and below 100 %."""
        if self.max_bad_share is None:
            return None
        try:
            share = percent_fraction(self.max_bad_share)
        except ValueError:
            raise ValueError("must be a share of requests such as 1%") from None
        if not 0.0 < share < 1.0:
            raise ValueError("must be above 0% and below 100%")
        return share


class MetricJudgeStatus(ApiModel):
    """The evidence on one metric, as of the last tick."""

    crd_extra: ClassVar[dict[str, Any]] = {"x-kubernetes-preserve-unknown-fields": True}

    metric: str = Field(description="The metric's name.")
    verdict: str = Field(default="", description="The metric's own verdict at the last tick.")
    reason: str = Field(default="", description="One sentence: the numbers behind the verdict.")


class JudgeStatus(ApiModel):
    """`status.judge`: the statistical judge's evidence, verdicts and a bounded ledger."""

    crd_extra: ClassVar[dict[str, Any]] = {"x-kubernetes-preserve-unknown-fields": True}

    verdict: str = Field(default="", description="FREEZE, ROLLBACK, HOLD, ADVANCE or PROMOTE.")
    reason: str = Field(default="", description="Why, in one sentence.")
    metrics: list[MetricJudgeStatus] = Field(default_factory=list, description="Evidence per metric.")


def _parse_block(text: str, where: str) -> dict[str, Any]:
    # the annotation is YAML (JSON is YAML too), read by the one bounded YAML reader of every command
    from serinus.api.manifests import ManifestError, load_yaml

    try:
        loaded = load_yaml(text)
    except ManifestError as err:
        raise ValueError(f"annotation {where} is not YAML: {err}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"annotation {where} must be a mapping")
    return loaded


def annotation_blocks(annotations: dict[str, str] | None) -> tuple[AnalysisJudge | None, dict[str, MetricJudge]]:
    """The judge blocks given as annotations: `serinus.io/judge` (the analysis block, which may hold
    `metrics: {<name>: <block>}`) and `serinus.io/judge-<metric>`. Raises ValueError naming the annotation."""
    annotations = annotations or {}
    analysis: AnalysisJudge | None = None
    metrics: dict[str, MetricJudge] = {}
    raw = annotations.get(ANNOTATION)
    if raw is not None:
        block = _parse_block(raw, ANNOTATION)
        per_metric = block.pop("metrics", None) or {}
        if not isinstance(per_metric, dict):
            raise ValueError(f"annotation {ANNOTATION}: metrics must map metric names to judge blocks")
        analysis = AnalysisJudge.model_validate(block)
        for name, value in per_metric.items():
            metrics[str(name)] = MetricJudge.model_validate(value or {})
    for key, value in annotations.items():
        if key.startswith(METRIC_ANNOTATION_PREFIX):
            metrics[key[len(METRIC_ANNOTATION_PREFIX) :]] = MetricJudge.model_validate(_parse_block(value, key))
    return analysis, metrics


def effective_judge(
    analysis_judge: AnalysisJudge | None,
    metric_judges: dict[str, MetricJudge | None],
    annotations: dict[str, str] | None,
) -> tuple[AnalysisJudge | None, dict[str, MetricJudge]]:
    """The judge settings in effect: the spec's blocks, else the annotations' (a spec field wins, field by field
    for the analysis block). `metric_judges` maps metric names to their spec `judge` blocks."""
    from_annotation, annotated_metrics = annotation_blocks(annotations)
    if analysis_judge is None:
        merged = from_annotation
    elif from_annotation is None:
        merged = analysis_judge
    else:
        merged = from_annotation.model_copy(update=analysis_judge.model_dump(exclude_unset=True))
    metrics = dict(annotated_metrics)
    for name, block in metric_judges.items():
        if block is not None:
            metrics[name] = block
    return merged, metrics
