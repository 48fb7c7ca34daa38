"""Inversion samplers: Poisson, binomial and multinomial counts from given uniforms, and latency bucket tables."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from serinus.sim.traffic.model import Latency

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: inversion is exact up to this mean, Cornish-Fisher above
_EXACT_MEAN: Final = 15.0

# ----- inversion samplers (vectorised; each run maps its own uniform) -----

_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def normal_ppf(u: FloatArray) -> FloatArray:
    """The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 1e-300, 1 - 1e-16)
    out = np.empty_like(u)
    low, high = u < 0.02425, u > 1 - 0.02425
    mid = ~(low | high)
    q = u[mid] - 0.5
    r = q * q
    out[mid] = (
        (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
        * q
        / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    )
    for mask, sign, tail in ((low, 1.0, u[low]), (high, -1.0, 1 - u[high])):
        if mask.any():
            s = np.sqrt(-2 * np.log(tail))
            out[mask] = sign * (
                (((((_C[0] * s + _C[1]) * s + _C[2]) * s + _C[3]) * s + _C[4]) * s + _C[5])
                / ((((_D[0] * s + _D[1]) * s + _D[2]) * s + _D[3]) * s + 1)
            )
    return out


def _cornish_fisher(u: FloatArray, mean: FloatArray, var: FloatArray, skew: FloatArray) -> FloatArray:
    z = normal_ppf(u)
    x = mean + np.sqrt(var) * (z + skew * (z * z - 1) / 6)
    return np.maximum(np.ceil(x - 0.5), 0.0)


def poisson_ppf(u: FloatArray, lam: FloatArray) -> IntArray:
    """The u-quantile of Poisson(lam), elementwise: exact search for lam <= 15, Cornish-Fisher above."""
    u, lam = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(lam, np.float64))
    out = np.zeros(u.shape, dtype=np.int64)
    big = lam > _EXACT_MEAN
    if big.any():
        lb = lam[big]
        out[big] = _cornish_fisher(u[big], lb, lb, 1 / np.sqrt(lb)).astype(np.int64)
    idx = np.flatnonzero(~big & (lam > 0))
    if idx.size:
        uu, ll = u.ravel()[idx], lam.ravel()[idx]
        pmf = np.exp(-ll)
        cdf = pmf.copy()
        k = np.zeros(idx.size, dtype=np.int64)
        flat = out.reshape(-1)
        active = np.flatnonzero(uu > cdf)
        limit = int(_EXACT_MEAN * 4 + 40)
        while active.size and limit:
            k[active] += 1
            pmf[active] *= ll[active] / k[active]
            cdf[active] += pmf[active]
            active = active[uu[active] > cdf[active]]
            limit -= 1
        flat[idx] = k
    return out


def binomial_ppf(u: FloatArray, n: IntArray, p: FloatArray) -> IntArray:
    """The u-quantile of Binomial(n, p), elementwise: exact search while the smaller of n·p and n·(1-p) is at most
    15, Cornish-Fisher above."""
    u, n, p = np.broadcast_arrays(
        np.asarray(u, np.float64), np.asarray(n, np.int64), np.clip(np.asarray(p, np.float64), 0.0, 1.0)
    )
    flip = p > 0.5
    q = np.where(flip, 1 - p, p)
    uq = np.where(flip, 1 - u, u)
    mean = n.astype(np.float64) * q
    big = mean > _EXACT_MEAN
    res = np.zeros(u.shape, dtype=np.int64)
    if big.any():
        mb, qb = mean[big], q[big]
        var = mb * (1 - qb)
        res[big] = np.minimum(_cornish_fisher(uq[big], mb, var, (1 - 2 * qb) / np.sqrt(var)), n[big]).astype(np.int64)
    idx = np.flatnonzero(~big & (mean > 0))
    if idx.size:
        uu, nn, qq = uq.ravel()[idx], n.ravel()[idx].astype(np.float64), q.ravel()[idx]
        pmf = np.exp(nn * np.log1p(-qq))
        cdf = pmf.copy()
        ratio = qq / (1 - qq)
        k = np.zeros(idx.size, dtype=np.int64)
        active = np.flatnonzero((uu > cdf) & (k < nn))
        limit = int(_EXACT_MEAN * 4 + 40)
        while active.size and limit:
            pmf[active] *= (nn[active] - k[active]) / (k[active] + 1) * ratio[active]
            k[active] += 1
            cdf[active] += pmf[active]
            active = active[(uu[active] > cdf[active]) & (k[active] < nn[active])]
            limit -= 1
        res.reshape(-1)[idx] = k
    out = np.where(flip, n - res, res)
    return out.astype(np.int64)


def multinomial_ppf(uniforms: FloatArray, n: IntArray, probs: FloatArray) -> IntArray:
    """Multinomial(n, probs) per run by a chain of conditional binomials, each from its own uniform: `uniforms` has
    one per bucket boundary, shape (runs, K - 1), `probs` the K bucket probabilities (per run or shared)."""
    runs, k = n.shape[0], uniforms.shape[1] + 1
    probs = np.broadcast_to(probs, (runs, k))
    counts = np.zeros((runs, k), dtype=np.int64)
    remaining = n.copy()
    left = np.ones(runs)
    for j in range(k - 1):
        if not remaining.any():
            return counts
        pj = probs[:, j]
        cond = np.where(left > 1e-15, np.minimum(pj / np.maximum(left, 1e-300), 1.0), 0.0)
        c = binomial_ppf(uniforms[:, j], remaining, cond)
        counts[:, j] = c
        remaining = remaining - c
        left = left - pj
    counts[:, k - 1] = remaining
    return counts


# ----- latency buckets -----


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    if x <= 0:
        return 0.0
    if sigma == 0:
        return 1.0 if x >= median else 0.0
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))


def _partial_mean(x: float, median: float, sigma: float) -> float:
    """E[X; X <= x] of a lognormal."""
    if x <= 0:
        return 0.0
    if sigma == 0:
        return median if x >= median else 0.0
    mu = math.log(median)
    return (
        math.exp(mu + sigma * sigma / 2)
        * 0.5
        * (1 + math.erf((math.log(x) - mu - sigma * sigma) / (sigma * math.sqrt(2))))
    )


@lru_cache(maxsize=4096)
def bucket_model(bounds: tuple[float, ...], latency: Latency, multiplier: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """(probability of each bucket, mean latency of a request in it), for finite bounds plus +Inf, in ms."""
    median, sigma = latency.median_ms * multiplier, latency.sigma
    frac, add = latency.tail_fraction, latency.tail_add_ms
    edges = [*bounds, math.inf]

    def cdf(x: float) -> float:
        if math.isinf(x):
            return 1.0
        return (1 - frac) * _lognormal_cdf(x, median, sigma) + frac * _lognormal_cdf(x - add, median, sigma)

    def partial(x: float) -> float:  # E[latency; latency <= x]
        full = math.exp(math.log(median) + sigma * sigma / 2)
        if math.isinf(x):
            return (1 - frac) * full + frac * (full + add)
        return (1 - frac) * _partial_mean(x, median, sigma) + frac * (
            _partial_mean(x - add, median, sigma) + add * _lognormal_cdf(x - add, median, sigma)
        )

    cum = np.array([cdf(x) for x in edges])
    pm = np.array([partial(x) for x in edges])
    probs = np.diff(np.concatenate([[0.0], cum]))
    mass = np.diff(np.concatenate([[0.0], pm]))
    lower = np.array([0.0, *bounds])
    upper = np.array([*bounds, bounds[-1] * 2])
    means = np.where(probs > 1e-300, mass / np.maximum(probs, 1e-300), (lower + upper) / 2)
    probs = np.clip(probs, 0.0, None)
    probs.setflags(write=False)
    means.setflags(write=False)
    return probs, means
