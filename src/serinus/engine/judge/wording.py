"""Every sentence the statistical judge writes: ledger reasons, verdict reasons, HOLD predictions and policy notes.

The judge's words reach people as Kubernetes events, alerts, status.judge and `serinus simulate` output, and tests
and dashboards match them, so they live here, apart from the numbers they report (`evaluate` computes those, `tick`
picks the sentence). Counts are shown whole where they are whole (`increase()` gives fractions), odds as people read
them ("257:1"), shares as percentages with three significant digits.
"""

from __future__ import annotations

from serinus.engine.judge.types import Verdict

#: the metric's own verdict in its ledger line
_VERDICT_WORDS = {
    Verdict.ROLLBACK: "rollback",
    Verdict.PROMOTE: "certified",
    Verdict.ADVANCE: "no rollback evidence",
    Verdict.HOLD: "hold",
}

WARM_UP = "warm-up: the canary's first interval with traffic is left out of the latency tests"
WARM_UP_NEED = "latency after the warm-up interval"
AUTO_BOUND_WAIT = "latency bound: waiting for 200 primary requests to pick the primary's p99 bucket"
NO_REQUESTS = "no evidence this interval: the canary served no requests"
PRIMARY_BREACH = " (primary breaches the bound too: interval not counted)"


# --- numbers ----------------------------------------------------------------------------------------------------


def num(x: float) -> str:
    """A count as people read it: whole numbers without decimals (increase() gives fractions)."""
    if abs(x - round(x)) < 1e-6:
        return str(round(x))
    return f"{x:.1f}"


def odds(x: float) -> str:
    """Odds as people read them: 257, 13.1, 1.6, 0.068, 3.2e+08."""
    if x >= 1e6:
        return f"{x:.2g}"
    if x >= 100 or (x >= 10 and abs(x - round(x)) < 0.05):
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2g}"


def pct(x: float) -> str:
    """A share as a percentage: 0.5%, 1.23%."""
    return f"{100 * x:.3g}%"


def duration(seconds: float) -> str:
    """A wait as people say it: 45 s, 12 min, 2.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- one metric's ledger line -----------------------------------------------------------------------------------


def errors_label(metric: str, success_rate: bool) -> str:
    """What a count metric's relative test is called: "errors" for the built-in success rate."""
    return "errors" if success_rate else metric


def exceedance_label(bound: float) -> str:
    """An exceedance test's name in its sentence."""
    return f"slower than {bound:g} ms"


def exceedance_test(bound: float) -> str:
    """An exceedance test's name in the ledger's `test` field."""
    return f"exceedance>{bound:g}ms"


def latency_bound(latency_max: float) -> str:
    """The absolute latency test's name."""
    return f"p99 ≤ {latency_max:g} ms"


def bad_share_bound(label: str, p_max: float, success_rate: bool) -> str:
    """The absolute test of a count metric: the success rate's floor, or a custom metric's bad share."""
    if success_rate:
        return f"success rate ≥ {100 * (1 - p_max):.4g}%"
    return f"{label}: bad share ≤ {100 * p_max:.4g}%"


def relative_sentence(
    label: str,
    counts: tuple[float, float, float, float],
    estimate: float | None,
    e_fail: float,
    m_fail: float,
    fail_threshold: float,
) -> str:
    """A relative test's counts so far, its ratio and its FAIL evidence against the threshold."""
    cn_c, cb_c, cn_p, cb_p = counts
    return (
        f"{label}: canary {num(cb_c)}/{num(cn_c)} vs primary {num(cb_p)}/{num(cn_p)}; "
        f"ratio {f'{estimate:.2g}' if estimate is not None else '-'}; "
        f"evidence {odds(e_fail)}:1 that canary ≥ {m_fail:g}× primary; "
        f"threshold {odds(fail_threshold)}:1"
    )


def below_effect_gate(diff: float, delta_fail: float) -> str:
    """Appended when the FAIL evidence crossed but the difference is below the effect gate."""
    return f" but the difference {pct(diff)} is below {pct(delta_fail)}"


def pass_fell(e_pass: float, pass_threshold: float) -> str:
    """Appended when promotion evidence fell this interval (the judge waits one more)."""
    return (
        f"; promotion evidence fell this interval ({odds(e_pass)}:1, needs "
        f"{odds(pass_threshold)}:1): one more interval before promoting"
    )


def after_worse_interval(label: str) -> str:
    """What a relative test still has to certify after an interval that took promotion evidence away."""
    return f"{label} after an interval that leaned worse"


def relative_tolerance(label: str, m_pass: float, delta_pass: float) -> str:
    """What a relative test certifies: the canary below the PASS tolerance."""
    return f"{label} below {m_pass:g}× the primary's (or +{pct(delta_pass)})"


def absolute_sentence(what: str, bad: float, requests: float, e_fail: float) -> str:
    """An absolute test's counts so far and its FAIL evidence."""
    return f"{what}: canary {num(bad)}/{num(requests)} bad, evidence {odds(e_fail)}:1 against"


def with_threshold(sentence: str, fail_threshold: float) -> str:
    """A crossed absolute test's sentence as the rollback reason."""
    return f"{sentence} (threshold {odds(fail_threshold)}:1)"


def absolute_pass_needed(e_pass: float, pass_threshold: float) -> str:
    """Appended while an absolute test's PASS evidence is below its threshold."""
    return f", {odds(e_pass)}:1 for (needs {odds(pass_threshold)}:1)"


def absolute_certified(e_pass: float) -> str:
    """Appended once an absolute test's PASS evidence reached its threshold."""
    return f", certified at {odds(e_pass)}:1"


def no_test(metric: str) -> str:
    """A metric without any test (no baseline and no absolute bound)."""
    return f"{metric}: no test applies (no baseline and no absolute bound): not judged"


def verdict_word(verdict: Verdict, advisory: bool) -> str:
    """The metric's own verdict as its ledger line ends."""
    word = _VERDICT_WORDS.get(verdict, str(verdict).lower())
    return f"{word} (advisory)" if advisory else word


def metric_reason(phrases: list[str], word: str) -> str:
    """A metric's ledger reason: its tests' phrases, then its verdict."""
    return "; ".join(phrases) + f" → {word}"


def scalar_tolerance(metric: str, pass_ratio: float) -> str:
    """What a scalar's PASS test certifies."""
    return f"{metric} within {pass_ratio:g}× the primary's"


def scalar_sentence(
    metric: str,
    values: tuple[float, float] | None,
    worse: float,
    used: float,
    direction: int,
    e_fail: float,
    e_pass: float,
    ratios: tuple[float, float],
    thresholds: tuple[float, float],
) -> str:
    """A scalar's values this interval, how often it was worse, and both sign tests' evidence."""
    fail_ratio, pass_ratio = ratios
    fail_threshold, pass_threshold = thresholds
    shown = (
        f"canary {values[0]:.4g} vs primary {values[1]:.4g}" if values is not None else "no usable value this interval"
    )
    return (
        f"{metric}: {shown}; {num(worse)} of {num(used)} intervals ≥ {fail_ratio:g}× "
        f"{'higher' if direction > 0 else 'lower'}; evidence {odds(e_fail)}:1 that canary is worse (threshold "
        f"{odds(fail_threshold)}:1), {odds(e_pass)}:1 that it is within {pass_ratio:g}× (needs "
        f"{odds(pass_threshold)}:1)"
    )


# --- data the judge cannot use (FREEZE) ------------------------------------------------------------------------


def no_observation(metric: str) -> str:
    """A decisive metric with no observation at all."""
    return f"{metric}: no observation"


def provider_error(metric: str, error: str) -> str:
    """A decisive metric whose provider failed."""
    return f"{metric}: {error}"


def scrape_gap(metric: str, version: str) -> str:
    """A decisive metric without one version's counts."""
    return f"{metric}: no {version} data (scrape gap)"


def advisory_gap(metric: str, error: str | None) -> str:
    """An advisory metric that could not be judged this interval (the others still are)."""
    return f"{metric}: {error or 'no data'} (advisory)"


def freeze_reason(problems: list[str]) -> str:
    """Every reason the interval cannot be judged, in one sentence."""
    return "; ".join(problems)


def sample_ratio_mismatch(observed: float, total: float, weight: int) -> str:
    """The canary served far less than its routed share: FREEZE."""
    return f"sample-ratio mismatch: the canary served {pct(observed)} of {num(total)} requests at weight {weight}%"


def direct_load(observed: float, weight: int) -> str:
    """The canary served far more than its routed share: judged, with this note."""
    return f"note: the canary served {pct(observed)} of requests at weight {weight}% (direct load?)"


def with_note(text: str, note: str) -> str:
    """A reason with the interval's note."""
    return f"{text} ({note})"


# --- the tick's verdict -----------------------------------------------------------------------------------------


def rollback(fail_words: str) -> str:
    """ROLLBACK: the sentence of the test that crossed."""
    return f"{fail_words} → rollback"


def advance(served: float | None) -> str:
    """ADVANCE: no rollback evidence, and how many requests the canary served."""
    if served is not None:
        return f"no rollback evidence; the canary served {num(served)} requests this interval"
    return "no rollback evidence"


def promote(names: list[str], gate_none: bool) -> str:
    """PROMOTE: every decisive metric certified, or `gate: none`."""
    joined = ", ".join(names)
    if gate_none:
        return f"no rollback evidence ({joined or 'no decisive metric'}); gate none promotes without certifying"
    if names:
        return f"promotion evidence for every metric ({joined})"
    return "no decisive metric: nothing to certify"


def shared_incident(paused: list[str]) -> str:
    """HOLD while the primary breaches the same bounds: no prediction until it recovers."""
    return (
        f"the primary breaches the bound too ({', '.join(paused)}): a shared incident, so certifying "
        f"{'it' if len(paused) == 1 else 'them'} waits until the primary recovers"
    )


def and_then(text: str, more: str) -> str:
    """Two HOLD sentences in one."""
    return f"{text}; {more}"


def requests_without_traffic(requests: float, what: str) -> str:
    """HOLD: requests still needed, while the canary serves none."""
    return f"≈ {requests:.0f} more canary requests to certify {what} (no canary traffic now)"


def cannot_certify(what: str) -> str:
    """HOLD: at the current rates the requirement cannot be met."""
    return f"no decision yet: at the current rates the canary cannot certify {what}"


def requests_needed(requests: float, seconds: float, what: str) -> str:
    """HOLD: requests still needed, and how long they take at the current traffic."""
    return f"≈ {requests:.0f} more canary requests (≈ {duration(seconds)} at current traffic) to certify {what}"


def time_needed(seconds: float, what: str) -> str:
    """HOLD: time still needed (warm-up, one more interval, scalar intervals)."""
    return f"≈ {duration(seconds)} more to certify {what}"


def paused(text: str) -> str:
    """HOLD after onInconclusive pause decided."""
    return f"paused, waiting for a person: {text}"


def leaning(metric: str, evidence: float) -> str:
    """The first decisive test whose FAIL evidence leans "worse", for the flagger policy's reason."""
    return f"{metric} {odds(evidence)}:1"


# --- onInconclusive at maxHold ----------------------------------------------------------------------------------


def policy_rollback(held: float) -> str:
    """onInconclusive rollback."""
    return f"no decision after holding {duration(held)} (maxHold): onInconclusive rollback"


def policy_promote(held: float) -> str:
    """onInconclusive promote."""
    return f"no decision after holding {duration(held)} (maxHold): onInconclusive promote"


def policy_pause(held: float) -> str:
    """onInconclusive pause."""
    return f"paused: no decision after holding {duration(held)} (maxHold); waiting for a person to promote or roll back"


def flagger_counted(failed: int, checked: int, threshold: int) -> str:
    """Flagger's failed checks over the judged intervals."""
    return f"{failed} of {checked} intervals with data failed their thresholds (threshold {threshold})"


def flagger_schedule(held: float, promoted: bool, passes: int, threshold: int, counted: str) -> str:
    """onInconclusive flagger, when Flagger's replayed run has decided on its own schedule."""
    how = f"after {passes} passing checks" if promoted else f"after {threshold} failed checks"
    return (
        f"no decision after holding {duration(held)} (maxHold); Flagger's rule on its own schedule would have "
        f"{'promoted' if promoted else 'rolled back'} {how} ({counted})"
    )


def flagger_over_run(held: float, counted: str) -> str:
    """onInconclusive flagger, when Flagger's replayed run has not decided: its failed checks over the run."""
    return f"no decision after holding {duration(held)} (maxHold); Flagger's rule over the run: {counted}"


def flagger_promote(text: str) -> str:
    """onInconclusive flagger promotes."""
    return f"{text} → promote"


def flagger_overruled(text: str) -> str:
    """onInconclusive flagger would roll back, but no FAIL test leans that way: promote."""
    return (
        f"{text}, but every FAIL test's evidence favours a canary no worse than the primary (all below 1:1) → promote"
    )


def flagger_rollback(text: str, leaning: str) -> str:
    """onInconclusive flagger rolls back, and the judge's evidence leans the same way."""
    return f"{text}; the evidence leans the same way ({leaning}) → rollback"
