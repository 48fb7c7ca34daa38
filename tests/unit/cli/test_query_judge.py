"""`serinus query` with the statistical judge on: each metric's counts, as the judge would read them."""

from __future__ import annotations

from serinus.cli.query import judge_lines, observation_json
from serinus.engine.judge.types import Observation, VersionCounts


def test_judge_lines_show_kind_counts_and_queries() -> None:
    """One block per metric: its test, the canary's and primary's counts (none for a missing count), the error
    where there is one, and every query."""
    observations = [
        Observation(
            "request-success-rate",
            "ratio",
            VersionCounts(requests=1440, bad=None),
            VersionCounts(requests=5760.5, bad=12),
            queries=("q1", "q2", "q3", "q4"),
        ),
        Observation(
            "request-duration", "histogram", VersionCounts(buckets=((50, 9), (float("inf"), 10))), None, queries=("q5",)
        ),
        Observation("latency", "scalar", error="prometheus http://prom: timed out; query: q6", queries=("q6",)),
    ]
    assert judge_lines(observations, 30) == [
        "statistical judge: counts over the last 30s (the analysis interval)",
        "request-success-rate (ratio)",
        "  canary:  requests=1440 bad=none",
        "  primary: requests=5760.5 bad=12",
        "  query: q1",
        "  query: q2",
        "  query: q3",
        "  query: q4",
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
    obs = Observation(
        "request-duration",
        "histogram",
        VersionCounts(buckets=((50.0, 9.0), (float("inf"), 10.0))),
        VersionCounts(value=3.0),
        queries=("q",),
    )
    assert observation_json(obs, 60) == {
        "metric": "request-duration",
        "judge": {
            "kind": "histogram",
            "windowSeconds": 60,
            "error": None,
            "queries": ["q"],
            "canary": {"requests": None, "bad": None, "value": None, "buckets": [[50.0, 9.0], ["+Inf", 10.0]]},
            "primary": {"requests": None, "bad": None, "value": 3.0, "buckets": []},
        },
    }


def test_the_ledger_line_says_what_the_judge_would_make_of_one_interval() -> None:
    """With counts in hand, `serinus query` shows the judge's verdict and evidence for them, as the first interval
    of a run: a canary failing 40 of 1000 requests against a primary failing 9 of 9000 is rollback evidence."""
    from serinus.api import Canary
    from serinus.cli.query import _one_tick

    canary = Canary.model_validate(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {
                    "interval": "1m",
                    "threshold": 5,
                    "stepWeight": 10,
                    "maxWeight": 50,
                    "judge": {"mode": "statistical"},
                    "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
                },
            },
        }
    )
    observations = [
        Observation(
            "request-success-rate", "ratio", VersionCounts(requests=1000, bad=40), VersionCounts(requests=9000, bad=9)
        )
    ]
    ledger = _one_tick(canary, observations, 60)
    line = ledger["request-success-rate"]
    assert line.verdict == "ROLLBACK"
    assert line.e_fail >= line.fail_threshold
    text = judge_lines(observations, 60, ledger)
    judge = next(t for t in text if t.startswith("  judge:   "))
    assert judge.startswith("  judge:   ROLLBACK: ")
    assert "rollback evidence" in judge
