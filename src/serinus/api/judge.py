"""The statistical judge's settings (Serinus only; every field optional, absent means Flagger's behaviour).

`spec.analysis.judge` chooses how a release is judged; `spec.analysis.metrics[].judge` tunes one metric. The
same blocks may be given as annotations, so a manifest still validates against Flagger's own CRD:

    serinus.io/judge: |              # the analysis block, optionally with `metrics: {<name>: <metric block>}`
      mode: statistical
    serinus.io/judge-request-duration: '{kind: histogram}'

A field in the spec wins over the annotation.

This module is also the settings' one reader, for the operator and for `serinus validate` alike: `DEFAULTS` holds
every value a Canary leaves out, `read_annotations` parses the annotations into blocks (each with the path it was
written at), `effective_analysis` and `effective_metric` say which block is in effect, and `parse_bound` and
`parse_direction` read the free-text fields (`judge_kinds` says which test a metric gets). The two read with one
difference, on purpose: validate holds an annotation to the CRD schema of the block it stands for and reports each
problem at its field (`read_annotations` with `schemas`), while the operator (`effective_judge`) judges with what it
can read of the annotation (pydantic's reading: `'0.05'` is 0.05) and gives up, with a ValueError naming the
annotation, only where it cannot read it at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError

from serinus.api.base import ApiModel, Crd, camel
from serinus.api.manifests import ManifestError, load_yaml
from serinus.api.problems import Path, Problem, error, show, warning

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


@dataclass(frozen=True)
class EffectDefaults:
    """A test's default tolerances: roll back at `rollback`, promote once `promote` is ruled out, each a
    (canary/primary ratio, canary − primary difference as a fraction) pair; the difference is 0 for scalar sign
    tests, which have none."""

    rollback: tuple[float, float]
    promote: tuple[float, float]


@dataclass(frozen=True)
class JudgeDefaults:
    """Every default of the judge's settings (docs/judge.md, Settings): what a Canary gets for each field it leaves
    out. The operator resolves its settings with them; `serinus validate`'s messages and the CRD's descriptions
    quote them."""

    false_rollback_rate: float = 0.05
    missed_regression_rate: float = 0.05
    gate: Gate = Gate.MAX_WEIGHT
    max_hold: str = "30m"
    on_inconclusive: OnInconclusive = OnInconclusive.FLAGGER
    baseline: Baseline = Baseline.PRIMARY
    #: errors (5xx, or a custom metric's bad requests): roll back on a doubling that costs >= 0.1 pp; promotion
    #: must rule out 5x and 0.5 pp
    errors: EffectDefaults = EffectDefaults(rollback=(2.0, 0.001), promote=(5.0, 0.005))
    #: latency exceedance (share of requests slower than the bound): 2x / 0.5 pp and 5x / 2 pp
    latency: EffectDefaults = EffectDefaults(rollback=(2.0, 0.005), promote=(5.0, 0.02))
    #: scalar metrics (sign tests on canary/primary): roll back when typically 20 % worse, promote when typically
    #: less than 50 % worse, so that a steady 1.2x difference is flagged and noise is not
    scalar: EffectDefaults = EffectDefaults(rollback=(1.2, 0.0), promote=(1.5, 0.0))
    #: latency bounds of the exceedance tests: the primary's p99 bucket
    bounds: tuple[str, ...] = ("auto",)

    def effects(self, latency: bool, kind: MetricKind) -> EffectDefaults:
        """The default tolerances of a metric judged as `kind`; `latency` for request-duration, whose absolute
        test is on latency too."""
        if kind is MetricKind.SCALAR:
            return self.scalar
        if kind is MetricKind.HISTOGRAM or (kind is MetricKind.ABSOLUTE and latency):
            return self.latency
        return self.errors


DEFAULTS: Final = JudgeDefaults()


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
        default=None,
        description="Highest chance of rolling back a canary no worse than the primary; "
        f"{DEFAULTS.false_rollback_rate:g} if unset.",
    )
    missed_regression_rate: float | None = Field(
        default=None,
        description="Highest chance of promoting a canary worse than the tolerance; "
        f"{DEFAULTS.missed_regression_rate:g} if unset.",
    )
    gate: Gate | None = Field(
        default=None, description="Where promotion needs evidence: maxWeight (default), everyStep or none."
    )
    max_hold: Annotated[str, Crd(pattern=r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)")] = Field(
        default="",
        description=f"How long to hold for evidence at the gate before onInconclusive; {DEFAULTS.max_hold} if unset.",
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


# --- the free-text fields -------------------------------------------------------------------------------------------

#: Values of a scalar metric's `direction`: +1 when a higher canary value is worse, -1 when a lower one is.
DIRECTIONS: Final = {"increase": 1, "higher": 1, "up": 1, "decrease": -1, "lower": -1, "down": -1}


def parse_direction(text: str) -> int | None:
    """A scalar metric's `direction`: +1 when higher is worse, -1 when lower is, None when unset. Raises
    ValueError for any other word."""
    word = text.strip().lower()
    if not word:
        return None
    if word not in DIRECTIONS:
        raise ValueError(f"{text!r} is not a direction")
    return DIRECTIONS[word]


def parse_bound(text: str) -> float | None:
    """A latency bound of `bounds`: None for `auto` (the primary's p99 bucket), else milliseconds (`250` or
    `250ms`). Raises ValueError when it is neither."""
    word = str(text).strip()
    if word.lower() == "auto":
        return None
    return float(word.removesuffix("ms"))


# --- the annotations ------------------------------------------------------------------------------------------------

#: Where the annotations are in a Canary.
ANNOTATIONS: Final[Path] = ("metadata", "annotations")

T = TypeVar("T", bound=BaseModel)
B = TypeVar("B")


@dataclass(frozen=True)
class Located(Generic[T]):
    """One judge block and where it was written."""

    value: T
    path: Path

    def at(self, *steps: str | int) -> Path:
        """The path of a field inside the block."""
        return (*self.path, *steps)

    def set_fields(self) -> list[str]:
        """The wire names of the model fields written in the block."""
        fields = type(self.value).model_fields
        return [camel(name) for name in fields if name in self.value.model_fields_set]


@dataclass(frozen=True)
class AnnotationSchemas:
    """The CRD schemas an annotation is held to in a strict reading: the analysis block's (with the annotation's
    own `metrics: {<name>: <metric block>}`) and a metric block's. The caller builds them from the CRD generator,
    which sits above these models."""

    analysis: Mapping[str, Any]
    metric: Mapping[str, Any]


@dataclass(frozen=True)
class JudgeAnnotations:
    """The judge blocks the annotations hold, once parsed."""

    analysis: Located[AnalysisJudge] | None
    #: per metric name, every block given for it, in the order they apply (the last wins)
    metrics: dict[str, list[Located[MetricJudge]]]
    #: strict reading only: every problem found, at its field
    problems: list[Problem]
    #: True when `serinus.io/judge` is there but cannot be read: the settings in effect are then unknown
    unreadable: bool = False


def read_annotations(
    annotations: Mapping[str, str] | None, schemas: AnnotationSchemas | None = None
) -> JudgeAnnotations:
    """The judge blocks given as annotations: `serinus.io/judge` (the analysis block, which may hold
    `metrics: {<name>: <block>}`) and `serinus.io/judge-<metric>`, read after it so that it wins.

    With `schemas` (validate), each annotation is held to the schema of the block it stands for; a problem is
    reported at its field and leaves that block out. Without (the operator), each is read as pydantic reads it, and
    the first that cannot be read raises ValueError naming the annotation."""
    annotations = annotations or {}
    strict = schemas is not None
    problems: list[Problem] = []
    analysis: Located[AnalysisJudge] | None = None
    nested: dict[str, list[Located[MetricJudge]]] = {}
    own: dict[str, list[Located[MetricJudge]]] = {}
    unreadable = False
    raw = annotations.get(ANNOTATION)
    if raw is not None:
        path: Path = (*ANNOTATIONS, ANNOTATION)
        loaded = _load(raw, ANNOTATION, path, schemas.analysis if schemas else None, problems)
        unreadable = loaded is None
        if loaded is not None:
            per_metric = loaded.pop("metrics", None) or {}
            if not isinstance(per_metric, dict):  # a strict reading's schema has refused it already
                raise ValueError(f"annotation {ANNOTATION}: metrics must map metric names to judge blocks")
            judge = _model(AnalysisJudge, loaded, path, problems, strict)
            analysis = Located(judge, path) if judge is not None else None
            unreadable = judge is None
            for name, value in per_metric.items():
                where = (*path, "metrics", str(name))
                metric = _model(MetricJudge, value or {}, where, problems, strict)
                if metric is not None:
                    nested.setdefault(str(name), []).append(Located(metric, where))
    for key, value in annotations.items():
        if not key.startswith(METRIC_ANNOTATION_PREFIX):
            continue
        path = (*ANNOTATIONS, key)
        name = key[len(METRIC_ANNOTATION_PREFIX) :]
        loaded = _load(value, key, path, schemas.metric if schemas else None, problems)
        if loaded is None:
            continue
        if strict and not name:
            problems.append(
                error(path, f"names no metric; write {METRIC_ANNOTATION_PREFIX}<metric name>", "judge-annotation")
            )
            continue
        metric = _model(MetricJudge, loaded, path, problems, strict)
        if metric is not None:
            own.setdefault(name, []).append(Located(metric, path))
    metrics = {name: [*nested.get(name, []), *own.get(name, [])] for name in {**nested, **own}}
    return JudgeAnnotations(analysis, metrics, problems, unreadable)


def _load(
    text: str, key: str, path: Path, schema: Mapping[str, Any] | None, problems: list[Problem]
) -> dict[str, Any] | None:
    """The annotation's YAML as a mapping (JSON is YAML too), read by the one bounded YAML reader of every command.
    With a schema (strict), None and a problem when it cannot be used; without, a ValueError."""
    try:
        loaded = load_yaml(text)
    except ManifestError as err:
        if schema is None:
            raise ValueError(f"annotation {key} is not YAML: {err}") from None
        where = f" (line {err.line}, column {err.column} of the annotation)" if err.line is not None else ""
        problems.append(error(path, f"is not valid YAML: {err.problem}{where}", "judge-annotation"))
        return None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        if schema is None:
            raise ValueError(f"annotation {key} must be a mapping")
        problems.append(
            error(path, f"must be a YAML mapping of judge settings, got {show(loaded)}", "judge-annotation")
        )
        return None
    if schema is None:
        return loaded
    from serinus.api.structural import prune, validate

    pruned, dropped = prune(schema, loaded, path)
    problems += [
        warning(p.path, p.message.replace("the API server drops it", "the judge ignores it"), p.rule) for p in dropped
    ]
    schema_errors = [error(p.path, p.message, "judge-annotation") for p in validate(schema, pruned, path)]
    problems += schema_errors
    if schema_errors:
        return None
    result: dict[str, Any] = pruned
    return result


def _model(model: type[T], value: Any, path: Path, problems: list[Problem], strict: bool) -> T | None:
    """The block as a model. Strict: what the schema let through but the model refuses is an error at its field;
    otherwise pydantic's ValidationError (a ValueError) is raised."""
    if not strict:
        return model.model_validate(value)
    try:
        return model.model_validate(value)
    except ValidationError as err:
        for item in err.errors(include_url=False):
            text = item["msg"]
            problems.append(
                error(
                    (*path, *item["loc"]),
                    f"{text[:1].lower()}{text[1:]}, got {show(item.get('input'))}",
                    "judge-annotation",
                )
            )
        return None


# --- the settings in effect -----------------------------------------------------------------------------------------


def effective_analysis(spec: AnalysisJudge | None, annotated: AnalysisJudge | None) -> AnalysisJudge | None:
    """The analysis block in effect: the annotation's, overridden field by field by the spec's."""
    if spec is None:
        return annotated
    if annotated is None:
        return spec
    return annotated.model_copy(update=spec.model_dump(exclude_unset=True))


def effective_metric(spec: B | None, annotated: Sequence[B]) -> B | None:
    """A metric's block in effect: the spec's, else the last annotation given for it."""
    if spec is not None:
        return spec
    return annotated[-1] if annotated else None


def effective_judge(
    analysis_judge: AnalysisJudge | None,
    metric_judges: Mapping[str, MetricJudge | None],
    annotations: Mapping[str, str] | None,
) -> tuple[AnalysisJudge | None, dict[str, MetricJudge]]:
    """The judge settings in effect as the operator reads them: the analysis block, and every metric's block by
    name (`metric_judges` maps metric names to their spec `judge` blocks). Raises ValueError naming an annotation
    that cannot be read."""
    found = read_annotations(annotations)
    merged = effective_analysis(analysis_judge, found.analysis.value if found.analysis is not None else None)
    metrics: dict[str, MetricJudge] = {}
    for name in {**found.metrics, **metric_judges}:
        block = effective_metric(metric_judges.get(name), [b.value for b in found.metrics.get(name, [])])
        if block is not None:
            metrics[name] = block
    return merged, metrics
