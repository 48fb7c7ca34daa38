"""Kayenta's canary judge, NetflixACAJudge + MannWhitneyClassifier, ported for this benchmark.

Written from a description of Kayenta's NetflixACAJudge.scala and classifiers/metric/MannWhitneyClassifier.scala
(spinnaker/kayenta at a69573b) and checked on its users' reports (no Kayenta code is copied). Per metric Kayenta
compares two series of per-interval scalars, the experiment's and the control's:

* cleaning: `nanStrategy: remove` drops NaN points (the default; any other value than `replace` also removes);
  the IQR outlier removal is off unless configured (it is not ported);
* shortcuts: an empty series gives `Nodata` (or `Pass` with `nanStrategy: replace`); identical sorted series give
  `Pass`, and so does a single distinct value over both; a constant series gets Gaussian jitter of 1e-5 × value;
* the test: the two-sided Wilcoxon/Mann-Whitney confidence interval for the location shift (experiment −
  control) at `confLevel` (0.98 in the judge) with the tie-corrected normal approximation, as R's
  `wilcox.test(x, y, conf.int=TRUE, exact=FALSE, correct=FALSE)` computes it, roots found by Brent's method with
  R's `uniroot` tolerance (1e-4); the Hodges-Lehmann estimate is the root of the same statistic at z = 0. There
  is no continuity correction: with it, the outcome expected for spinnaker#6278's series with eight 100s
  (`High`) does not come out (the statistic just above the bound is 2.343 uncorrected, 2.305 corrected, against
  z = 2.326), so Kayenta's statistic is taken to be uncorrected;
* the decision: `High` when `CI lower > tolerance·|HL|` (tolerance 0.25) and `meanRatio ≥ allowedIncrease` (1.0),
  where `meanRatio = mean(experiment)/mean(control)` is NaN when the control mean is 0 and then skips that gate;
  `Low` is the mirror case; otherwise `Pass`.

`KayentaRule` applies it to one-minute points: the canary's per-interval error rate and p99 against the
primary's, over all intervals since the start, from the third interval on; any `High` rolls back, otherwise the
weight follows Flagger's schedule.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from bench.judge.common import Decision, Interval, histogram_quantile

DBL_EPSILON = 2.220446049250313e-16


class Classification(StrEnum):
    """Kayenta's metric classifications (the ones this port can produce)."""

    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"


@dataclass(frozen=True)
class MetricResult:
    """A classification and the numbers behind it (None where a shortcut decided)."""

    classification: Classification
    reason: str = ""
    lower: float | None = None
    upper: float | None = None
    estimate: float | None = None
    mean_ratio: float | None = None


def brent_root(
    f: Callable[[float], float], a: float, b: float, fa: float, fb: float, tol: float = 1e-4, max_iter: int = 1000
) -> float:
    """A root of `f` in [a, b] by Brent's method (bisection, secant and inverse quadratic steps), with the
    stopping rule of R's `uniroot`/zeroin: |step| ≤ 2·eps·|b| + tol/2. `fa` and `fb` must differ in sign."""
    c, fc = a, fa
    if fa == 0:
        return a
    if fb == 0:
        return b
    for _ in range(max_iter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * DBL_EPSILON * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # secant
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _rank_sum_and_ties(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """The sum of x's average ranks in x ∪ y and Σ(t³ − t) over the tie groups."""
    pooled = sorted([(v, True) for v in x] + [(v, False) for v in y], key=lambda item: item[0])
    rank_sum = 0.0
    ties = 0.0
    i = 0
    n = len(pooled)
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        t = j - i + 1
        average = (i + j) / 2 + 1
        rank_sum += average * sum(1 for k in range(i, j + 1) if pooled[k][1])
        ties += t * t * t - t
        i = j + 1
    return rank_sum, ties


def _w(x: Sequence[float], y: Sequence[float], d: float, correct: bool) -> float:
    """R's W(d): the standardised rank statistic of x − d against y (two-sided continuity correction)."""
    nx, ny = len(x), len(y)
    rank_sum, ties = _rank_sum_and_ties([v - d for v in x], y)
    dz = rank_sum - nx * (nx + 1) / 2 - nx * ny / 2
    correction = math.copysign(0.5, dz) if correct and dz != 0 else 0.0
    sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1))))
    if sigma == 0:
        raise ValueError("cannot compute confidence interval when all observations are tied")
    return (dz - correction) / sigma


def mann_whitney_ci(
    x: Sequence[float], y: Sequence[float], conf_level: float = 0.98, correct: bool = False
) -> tuple[float, float, float]:
    """The two-sided confidence interval and Hodges-Lehmann estimate of the shift x − y: (lower, upper, estimate),
    as R's `wilcox.test(x, y, conf.int=TRUE, exact=FALSE, correct=correct, conf.level=conf_level)`."""
    alpha = 1 - conf_level
    mumin = min(x) - max(y)
    mumax = max(x) - min(y)
    w_min = _w(x, y, mumin, correct)
    w_max = _w(x, y, mumax, correct)

    def root(zq: float) -> float:
        f_lower = w_min - zq
        if f_lower <= 0:
            return mumin
        f_upper = w_max - zq
        if f_upper >= 0:
            return mumax
        return brent_root(lambda d: _w(x, y, d, correct) - zq, mumin, mumax, f_lower, f_upper)

    z = NormalDist().inv_cdf(1 - alpha / 2)
    lower = root(z)
    upper = root(-z)
    e_min = _w(x, y, mumin, False)
    e_max = _w(x, y, mumax, False)
    estimate = brent_root(lambda d: _w(x, y, d, False), mumin, mumax, e_min, e_max)
    return lower, upper, estimate


def mean_ratio(control: Sequence[float], experiment: Sequence[float]) -> float:
    """mean(experiment) / mean(control); NaN when the control mean is 0 (then the effect-size gate is skipped)."""
    control_mean = sum(control) / len(control)
    if control_mean == 0:
        return math.nan
    return (sum(experiment) / len(experiment)) / control_mean


def classify(
    experiment: Sequence[float],
    control: Sequence[float],
    *,
    direction: str = "increase",
    nan_strategy: str = "remove",
    conf_level: float = 0.98,
    tolerance: float = 0.25,
    allowed_increase: float = 1.0,
    allowed_decrease: float = 1.0,
    rng: random.Random | None = None,
) -> MetricResult:
    """Kayenta's classification of one metric: experiment (canary) against control."""
    if nan_strategy == "replace":
        experiment = [0.0 if math.isnan(v) else v for v in experiment]
        control = [0.0 if math.isnan(v) else v for v in control]
    else:
        experiment = [v for v in experiment if not math.isnan(v)]
        control = [v for v in control if not math.isnan(v)]
    if not experiment or not control:
        if nan_strategy == "replace":
            return MetricResult(Classification.PASS, "no data (nanStrategy replace)")
        return MetricResult(Classification.NODATA, "empty series")
    if sorted(experiment) == sorted(control):
        return MetricResult(Classification.PASS, "the experiment and control data are identical")
    if len(set(experiment) | set(control)) == 1:
        return MetricResult(Classification.PASS, "a single distinct value")
    rng = rng or random.Random(0)
    if len(set(experiment)) == 1:
        experiment = [v + rng.gauss(0.0, 1.0) * 1e-5 * v for v in experiment]
    if len(set(control)) == 1:
        control = [v + rng.gauss(0.0, 1.0) * 1e-5 * v for v in control]
    try:
        lower, upper, estimate = mann_whitney_ci(experiment, control, conf_level)
    except ValueError as err:
        return MetricResult(Classification.PASS, str(err))
    ratio = mean_ratio(control, experiment)
    bound = tolerance * abs(estimate)
    numbers = {"lower": lower, "upper": upper, "estimate": estimate, "mean_ratio": ratio}
    if direction in ("increase", "either") and lower > bound and (math.isnan(ratio) or ratio >= allowed_increase):
        return MetricResult(Classification.HIGH, f"CI lower {lower:.3g} > {bound:.3g}", **numbers)
    if direction in ("decrease", "either") and upper < -bound and (math.isnan(ratio) or ratio <= allowed_decrease):
        return MetricResult(Classification.LOW, f"CI upper {upper:.3g} < {-bound:.3g}", **numbers)
    return MetricResult(Classification.PASS, f"CI [{lower:.3g}, {upper:.3g}] within ±{bound:.3g}", **numbers)


class KayentaRule:
    """One run judged by the Kayenta port: per-interval error rate and p99, canary against primary, every
    interval from the third on; any High rolls back, otherwise Flagger's weight schedule."""

    def __init__(
        self,
        name: str = "kayenta",
        first_judgement: int = 3,
        step_weight: int = 10,
        max_weight: int = 50,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.first_judgement = first_judgement
        self.step_weight = step_weight
        self.max_weight = max_weight
        self._weight = step_weight
        self._rng = random.Random(seed)
        self.series: dict[str, tuple[list[float], list[float]]] = {"error-rate": ([], []), "p99": ([], [])}
        self.last: dict[str, MetricResult] = {}

    @property
    def weight(self) -> int:
        """The canary's weight over the next interval."""
        return self._weight

    def step(self, interval: Interval) -> Decision:
        """Append the interval's points, judge both metrics, decide."""
        c, p = interval.canary, interval.primary
        for name, version, target in (("error-rate", c, 0), ("error-rate", p, 1), ("p99", c, 0), ("p99", p, 1)):
            if name == "error-rate":
                value = version.errors / version.requests if version.requests > 0 else math.nan
            else:
                value = histogram_quantile(0.99, interval.bounds, version.buckets)
            self.series[name][target].append(value)
        if interval.index >= self.first_judgement:
            self.last = {name: classify(exp, ctl, rng=self._rng) for name, (exp, ctl) in self.series.items()}
            if any(r.classification is Classification.HIGH for r in self.last.values()):
                return Decision.ROLLBACK
        if self._weight < self.max_weight:
            self._weight = min(100, self._weight + self.step_weight)
            return Decision.ADVANCE
        return Decision.PROMOTE
