"""Which statistical test a metric of a Canary gets (docs/judge.md, Settings), for the operator and for `serinus
validate` alike: the built-in metrics' possible kinds, and the kind a metric gets when its judge block names none.
(It needs the analysis models, which sit above the judge's settings in `serinus.api.judge`.)
"""

from __future__ import annotations

from typing import Final

from serinus.api.analysis import REQUEST_DURATION, REQUEST_SUCCESS_RATE, CanaryMetric
from serinus.api.judge import MetricJudge, MetricKind

#: The kinds each built-in metric can be judged as.
BUILTIN_KINDS: Final = {
    REQUEST_SUCCESS_RATE: (MetricKind.RATIO, MetricKind.ABSOLUTE),
    REQUEST_DURATION: (MetricKind.HISTOGRAM, MetricKind.ABSOLUTE, MetricKind.SCALAR),
}


def metric_kind(metric: CanaryMetric, judge: MetricJudge | None) -> MetricKind:
    """The test a metric gets: its kind, else ratio for success rate, histogram for duration, ratio for a custom
    metric with both count queries and scalar for any other."""
    if judge is not None and judge.kind is not None:
        return judge.kind
    if metric.name == REQUEST_SUCCESS_RATE:
        return MetricKind.RATIO
    if metric.name == REQUEST_DURATION:
        return MetricKind.HISTOGRAM
    if judge is not None and judge.requests_query and judge.bad_query:
        return MetricKind.RATIO
    return MetricKind.SCALAR
