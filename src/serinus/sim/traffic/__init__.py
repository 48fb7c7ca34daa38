"""Synthetic request traffic for the simulator and the judge benchmark (docs/simulate.md, Traffic and The generator).

The scenario's `traffic:` block is checked by `spec`, becomes a `model`, and `generator` turns it, sub-interval by
sub-interval and closed-loop on the routing weights, into the counts Prometheus would hold, drawn by the inversion
`samplers`. This package's names are the API the simulator, the benchmark and the tests use.
"""

from __future__ import annotations

from serinus.sim.traffic.generator import Generator, History, SubInterval, Window, histogram_quantile
from serinus.sim.traffic.model import (
    CANARY,
    PRIMARY,
    VERSIONS,
    Change,
    Latency,
    Override,
    Span,
    Sticky,
    TrafficModel,
    VersionModel,
    with_model,
)
from serinus.sim.traffic.samplers import (
    FloatArray,
    IntArray,
    binomial_ppf,
    bucket_model,
    multinomial_ppf,
    normal_ppf,
    poisson_ppf,
)
from serinus.sim.traffic.spec import (
    DEFAULT_NOISE_INTERVAL_S,
    DEFAULT_SUB_INTERVAL_S,
    ISTIO_BOUNDS_MS,
    MAX_MULTIPLIER,
    MAX_RPS,
    MAX_SIGMA,
    MAX_STICKY_SIZE,
    TrafficSpec,
    parse_spec,
)

__all__ = [
    "CANARY",
    "DEFAULT_NOISE_INTERVAL_S",
    "DEFAULT_SUB_INTERVAL_S",
    "ISTIO_BOUNDS_MS",
    "MAX_MULTIPLIER",
    "MAX_RPS",
    "MAX_SIGMA",
    "MAX_STICKY_SIZE",
    "PRIMARY",
    "VERSIONS",
    "Change",
    "FloatArray",
    "Generator",
    "History",
    "IntArray",
    "Latency",
    "Override",
    "Span",
    "Sticky",
    "SubInterval",
    "TrafficModel",
    "TrafficSpec",
    "VersionModel",
    "Window",
    "binomial_ppf",
    "bucket_model",
    "histogram_quantile",
    "multinomial_ppf",
    "normal_ppf",
    "parse_spec",
    "poisson_ppf",
    "with_model",
]
