"""`serinus query` with the statistical judge on: each metric's counts, as the judge would read them."""

from __future__ import annotations

from serinus.cli.query import judge_lines, observation_json
from serinus.engine.judge.types import Observation, VersionCounts


def test_judge_lines_show_kind_counts_and_queries() -> None:
    """One block per metric: its test, the canary's and primary's counts (none for a missing count), the error
    where there is one, and every query."""
    observations = [
        Observation("request-success-rate", "ratio", VersionCounts(requests=1440, bad=None),
                    VersionCounts(requests=5760.5, bad=12), queries=("q1", "q2", "q3", "q4")),
        Observation("request-duration", "histogram", VersionCounts(buckets=((50, 9), (float("inf"), 10))), None,
                    queries=("q5",)),
        Observation("latency", "scalar", error="prometheus http://prom: timed out; query: q6", queries=("q6",)),
    ]
    assert judge_lines(observations, 30) == [
        "statistical judge: counts over the last 30s (the analysis interval)",
        "request-success-rate (ratio)",
        "  canary:  requests=1440 bad=none",
        "  primary: requests=5760.5 bad=12",
        "  query: q1", "  query: q2", "  query: q3", "  query: q4",
        "request-duration (histogram)",
        "  canary:  buckets(ms)=50:9 +Inf:10",
        "  primary: no baseline",
        "  query: q5",
        "latency (scalar)",
        "  error: prometheus http://prom: timed out; query: q6",
        "  query: q6",
    ]


def test_observation_json() -> None:
    """The JSON form keeps numbers as numbers and spells the +Inf bound as a string."""
    obs = Observation("request-duration", "histogram", VersionCounts(buckets=((50.0, 9.0), (float("inf"), 10.0))),
                      VersionCounts(value=3.0), queries=("q",))
    assert observation_json(obs, 60) == {"metric": "request-duration", "judge": {
        "kind": "histogram", "windowSeconds": 60, "error": None, "queries": ["q"],
        "canary": {"requests": None, "bad": None, "value": None, "buckets": [[50.0, 9.0], ["+Inf", 10.0]]},
        "primary": {"requests": None, "bad": None, "value": 3.0, "buckets": []}}}
