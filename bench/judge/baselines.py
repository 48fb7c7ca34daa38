"""The "hand-written canary-vs-primary PromQL" baselines: what users build when Flagger's rule is not enough.

Both compare the canary's error rate with the primary's, as a MetricTemplate querying both versions would, and
both move the weight on Flagger's schedule (advance on a passing interval, promote on a pass at `maxWeight`):

* `PeekingZ`: a one-sided two-proportion z-test on the counts accumulated since the start, re-run every interval
  at a fixed level (α = 0.05) and rolled back on the first rejection. Each look is valid alone; repeating it is
  not (the "peeking" problem: Johari et al., Peeking at A/B Tests, KDD 2017), which is what the benchmark shows.
* `FisherPerInterval`: a one-sided Fisher exact test on each interval's counts alone; p < α is a failed check,
  counted exactly like Flagger's `failedChecks` (only grows; rollback on the tick after it reaches `threshold`;
  an interval in which the canary served nothing is "no values found", a failed check, as in Flagger).

Neither looks at latency: a template comparing error rates is the common hand-written check. Only the standard
library is used (the hypergeometric tail is summed here).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from bench.judge.common import Decision, Interval


def z_statistic(errors_c: float, requests_c: float, errors_p: float, requests_p: float) -> float:
    """The pooled two-proportion z statistic (canary minus primary); 0 when it is undefined (no requests, or
    no errors / only errors in both)."""
    if requests_c <= 0 or requests_p <= 0:
        return 0.0
    pooled = (errors_c + errors_p) / (requests_c + requests_p)
    var = pooled * (1 - pooled) * (1 / requests_c + 1 / requests_p)
    if var <= 0:
        return 0.0
    return (errors_c / requests_c - errors_p / requests_p) / math.sqrt(var)


def _log_choose(n: float, k: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _hypergeom_tail(k0: int, step: int, stop: int, errors: int, draws: int, total: int) -> float:
    """Sum of the hypergeometric pmf from k0 to `stop` inclusive (step +1 upward or -1 downward), starting from
    the exact pmf at k0 and moving with the pmf ratio; stops once the terms no longer change the sum."""
    log_term = _log_choose(errors, k0) + _log_choose(total - errors, draws - k0) - _log_choose(total, draws)
    term = math.exp(log_term)
    acc = term
    k = k0
    while k != stop:
        if step > 0:  # pmf(k+1)/pmf(k) = (K-k)(n-k) / ((k+1)(N-K-n+k+1))
            term *= (errors - k) * (draws - k) / ((k + 1) * (total - errors - draws + k + 1))
        else:  # pmf(k-1)/pmf(k) = k(N-K-n+k) / ((K-k+1)(n-k+1))
            term *= k * (total - errors - draws + k) / ((errors - k + 1) * (draws - k + 1))
        k += step
        acc += term
        if term < acc * 1e-17:
            break
    return acc


def fisher_greater(errors_c: int, requests_c: int, errors_p: int, requests_p: int) -> float:
    """One-sided Fisher exact p-value that the canary's error rate is higher: P(X >= errors_c) where X, the
    canary's share of all errors, is hypergeometric given both margins (R's `fisher.test(alternative="greater")`).

    The tail is summed from the observed count with the pmf recurrence (from lgamma at the start), stopping once
    the terms no longer change the sum, so a large error count costs a few dozen terms rather than one per
    possible value. Below the mean the complement of the lower tail is summed instead, so the start is never a
    pmf so small it underflows while the answer is near 1.
    """
    total = requests_c + requests_p
    errors = errors_c + errors_p
    lo = max(0, requests_c - (total - errors))
    hi = min(requests_c, errors)
    if errors_c <= lo:
        return 1.0
    if errors_c > hi:
        return 0.0
    mean = requests_c * errors / total
    if errors_c >= mean:
        return min(1.0, _hypergeom_tail(errors_c, 1, hi, errors, requests_c, total))
    return max(0.0, 1.0 - _hypergeom_tail(errors_c - 1, -1, lo, errors, requests_c, total))


class _Schedule:
    """Flagger's weight schedule shared by both baselines."""

    def __init__(self, step_weight: int = 10, max_weight: int = 50) -> None:
        self.step_weight = step_weight
        self.max_weight = max_weight
        self._weight = step_weight

    @property
    def weight(self) -> int:
        """The canary's weight over the next interval."""
        return self._weight

    def _pass(self) -> Decision:
        if self._weight < self.max_weight:
            self._weight = min(100, self._weight + self.step_weight)
            return Decision.ADVANCE
        return Decision.PROMOTE


class PeekingZ(_Schedule):
    """A one-sided two-proportion z-test on cumulative error counts, re-run every interval at level `alpha`."""

    def __init__(self, name: str = "peek-z", alpha: float = 0.05, step_weight: int = 10, max_weight: int = 50) -> None:
        super().__init__(step_weight, max_weight)
        self.name = name
        self.critical = NormalDist().inv_cdf(1 - alpha)
        self.errors_c = self.requests_c = self.errors_p = self.requests_p = 0.0

    def step(self, interval: Interval) -> Decision:
        """Add the interval's counts, test, roll back on rejection, else advance on Flagger's schedule."""
        self.errors_c += interval.canary.errors
        self.requests_c += interval.canary.requests
        self.errors_p += interval.primary.errors
        self.requests_p += interval.primary.requests
        if z_statistic(self.errors_c, self.requests_c, self.errors_p, self.requests_p) > self.critical:
            return Decision.ROLLBACK
        return self._pass()


class FisherPerInterval(_Schedule):
    """A one-sided Fisher exact test per interval, each rejection (or empty interval) a Flagger failed check."""

    def __init__(
        self,
        name: str = "fisher-per-interval",
        alpha: float = 0.05,
        threshold: int = 5,
        step_weight: int = 10,
        max_weight: int = 50,
    ) -> None:
        super().__init__(step_weight, max_weight)
        self.name = name
        self.alpha = alpha
        self.threshold = threshold
        self.failed_checks = 0

    def step(self, interval: Interval) -> Decision:
        """Flagger's tick with the Fisher test as its only check."""
        if self.failed_checks >= self.threshold:
            return Decision.ROLLBACK
        c, p = interval.canary, interval.primary
        if (
            c.requests <= 0
            or fisher_greater(round(c.errors), round(c.requests), round(p.errors), round(p.requests)) < self.alpha
        ):
            self.failed_checks += 1
            return Decision.FAIL
        return self._pass()
