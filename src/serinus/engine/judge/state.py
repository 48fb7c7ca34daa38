"""What the statistical judge remembers between ticks, as typed records, and its JSON codec (`status.judge.state`).

`judge_tick` takes the `JudgeState` the previous tick returned and returns the next one; the engine keeps it in
the Canary's status between steps (`encode_state` on the way out, `decode_state` on the way in), so an operator
restart loses no evidence. This module owns the records and their wire format, nothing else: how the evidence is
updated is in `evaluate`, what it says in `wording`, what is decided in `tick`.

Wire format, version 1 (`"v": 1`). Short keys keep the status small (it travels with every watch event):

    {"v": 1, "w": weight | null, "hs": hold start | null, "fz": freeze start | null,
     "fl": [failed, checked, passes, verdict],                       Flagger's run replayed on the same intervals
     "m": {metric name: {"r": [relative test, ...], "a": absolute test, "wu": warm-up intervals left}
                      | {"z": [log e_fail, log e_pass, intervals used, intervals worse]}},   (scalar sign tests)
     "pz": true}                                                     only once onInconclusive pause has decided

    relative test: {"c": [n_c, b_c, n_p, b_p] (the run), "s": the same since PASS evidence last restarted,
                    "f": FAIL log-evidence per grid point, "p": PASS likelihood-ratio route, "d": canary-only
                    PASS route, "x": [b_c, B, ρ, ...] recent splits, "oc": over-dispersion,
                    "le": latency bound or null (exceedance tests only), "pb": pooled primary buckets (until the
                    automatic bound is chosen), "ep": PASS evidence of the last tick}
    absolute test: {"c": [n, bad, n_p, bad_p], "f": FAIL log-evidence, "p": PASS log-evidence,
                    "xa": [T, Σn, Σb, Σb²/n] of the canary's own rate, "e": [e_fail, e_pass] of the last tick}

Earlier releases wrote version 1 with fewer keys: relative tests without "d" (or with five entries in it) and
without "ep", absolute tests without "xa"; and the judge has always read an "fl" of only [failed, checked]. Such
states are read and written back as they came until a tick adds what is missing (the fields that can be missing
are `None` in the records). States of the first releases, before the over-dispersion "oc", could never be read
back and still cannot.

Each object's keys are written in the order the judge creates them in a run counted from its first interval (the
order above). The API server keeps neither key order nor the spelling of numbers (Go sorts an object's keys and
writes 0.0 as 0), so `decode_state` keeps every number as it comes (an int stays an int) and re-encoding a state
read from the cluster gives the same JSON value, which Go stores as the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from serinus.engine.judge import evidence as ev
from serinus.errors import JudgeStateError

STATE_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class FlaggerReplay:
    """Flagger's own run replayed on the judged intervals ("fl"), for `onInconclusive: flagger`.

    `verdict` is 0 while Flagger would still be running, -1 once its failed checks reached the threshold, +1 once
    it had as many passing checks as its schedule needs. `passes` and `verdict` are None in states written before
    the replay counted them (read as 0)."""

    failed: int = 0
    checked: int = 0
    passes: int | None = 0
    verdict: int | None = 0


@dataclass(slots=True)
class RelativeTest:
    """One test of the canary against the primary: the ratio of bad events, or the exceedance of one latency bound.

    The lists are updated in place by `evidence` (the tick works on its own copy of the state)."""

    #: "c": canary requests, canary bad, primary requests, primary bad over the run
    counts: list[float]
    #: "s": the same since PASS evidence last restarted (`gate: everyStep`), for the HOLD prediction
    step_counts: list[float]
    #: "f": log-evidence of the FAIL mixture, one per point of `evidence.FAIL_GRID`
    fail: list[float]
    #: "p": log-evidence of the PASS likelihood-ratio route (r = 1 and r = √m_pass)
    passing: list[float]
    #: "d": log-evidence of the canary-only PASS route, one per `evidence.DELTA_PASS_GRID` point (five in states
    #: written when it shared the absolute test's grid); None in states written before the route existed
    floor: list[float] | None
    #: "x": b_c, B, ρ of the recent intervals with bad events, for the over-dispersion estimate
    splits: list[float]
    #: "oc": the over-dispersion estimated from the intervals so far
    overdispersion: float
    #: an exceedance test: "le" is written (null while the automatic bound waits for the primary's requests)
    exceedance: bool = False
    #: "le": the latency bound (ms) of an exceedance test, None until the automatic bound is chosen
    bound: float | None = None
    #: "pb": the primary's pooled cumulative buckets, [le, count] with +Inf as -1 (strict JSON), until the automatic
    #: bound is chosen; None otherwise
    pooled: list[list[float]] | None = None
    #: "ep": PASS evidence (odds) at the last tick, None before the first
    last_pass: float | None = None

    @classmethod
    def fresh(cls, *, exceedance: bool = False, bound: float | None = None) -> RelativeTest:
        """A test with no evidence yet: a ratio test, or an exceedance test of `bound` (None: the automatic bound,
        chosen from the primary's pooled buckets)."""
        pooled: list[list[float]] | None = [] if exceedance and bound is None else None
        return cls(
            counts=[0.0, 0.0, 0.0, 0.0],
            step_counts=[0.0, 0.0, 0.0, 0.0],
            fail=[0.0] * len(ev.FAIL_GRID),
            passing=[0.0, 0.0],
            floor=[0.0] * len(ev.DELTA_PASS_GRID),
            splits=[],
            overdispersion=ev.OVERDISPERSION_PRIOR,
            exceedance=exceedance,
            bound=bound,
            pooled=pooled,
        )

    def choose_bound(self, bound: float) -> None:
        """The automatic bound is chosen: the pooled buckets are no longer kept."""
        self.exceedance = True
        self.bound = bound
        self.pooled = None

    def copy(self) -> RelativeTest:
        """A copy whose lists can be updated without touching this one."""
        return RelativeTest(
            list(self.counts),
            list(self.step_counts),
            list(self.fail),
            list(self.passing),
            list(self.floor) if self.floor is not None else None,
            list(self.splits),
            self.overdispersion,
            self.exceedance,
            self.bound,
            [list(pair) for pair in self.pooled] if self.pooled is not None else None,
            self.last_pass,
        )


@dataclass(slots=True)
class AbsoluteTest:
    """The test of the canary's own bad share against a fixed bound (`thresholdRange`, `maxBadShare`)."""

    #: "c": canary requests, canary bad (FAIL side), primary requests, primary bad at the same bound
    counts: list[float]
    #: "f": log-evidence of the FAIL mixture (bad share above the bound)
    fail: list[float]
    #: "p": log-evidence of the PASS mixture (bad share below the bound)
    passing: list[float]
    #: "xa": [intervals, Σn, Σb, Σb²/n] of the canary's own rate, for its tempering; None until an interval counts
    own: list[float] | None = None
    #: "e": (e_fail, e_pass) odds at the last tick, None before the first
    last: tuple[float, float] | None = None

    @classmethod
    def fresh(cls) -> AbsoluteTest:
        """A test with no evidence yet."""
        return cls([0.0, 0.0, 0.0, 0.0], [0.0] * len(ev.ABS_FAIL_GRID), [0.0] * len(ev.ABS_PASS_GRID))

    def copy(self) -> AbsoluteTest:
        """A copy whose lists can be updated without touching this one."""
        own = list(self.own) if self.own is not None else None
        return AbsoluteTest(list(self.counts), list(self.fail), list(self.passing), own, self.last)


@dataclass(frozen=True, slots=True)
class SignTest:
    """The sign e-processes of a scalar metric ("z"): log-evidence for FAIL and PASS, intervals used, and intervals
    in which the canary was worse than the rollback ratio."""

    log_fail: float = 0.0
    log_pass: float = 0.0
    used: int = 0
    worse: int = 0


@dataclass(slots=True)
class MetricState:
    """Every test of one metric: relative tests and an absolute test for counts, or the sign test of a scalar."""

    #: "r": one relative test per latency bound (one for a ratio); None without a baseline
    relative: list[RelativeTest] | None = None
    #: "a": the absolute test, None without a bound
    absolute: AbsoluteTest | None = None
    #: "wu": latency intervals with canary traffic still left out as warm-up; None for non-latency metrics
    warmup: int | None = None
    #: "z": the sign test of a scalar metric (then nothing else is set)
    sign: SignTest | None = None

    def copy(self) -> MetricState:
        """A copy whose tests can be updated without touching this one."""
        return MetricState(
            [test.copy() for test in self.relative] if self.relative is not None else None,
            self.absolute.copy() if self.absolute is not None else None,
            self.warmup,
            self.sign,
        )


@dataclass(slots=True)
class JudgeState:
    """Everything the judge remembers of one run (one canary revision), between ticks."""

    #: "w": the routing weight of the last judged tick (None before the first)
    weight: int | None = None
    #: "hs": when the current hold at the gate started (seconds), None when not holding
    hold_since: float | None = None
    #: "fz": when the current freeze started, None when not frozen
    frozen_since: float | None = None
    #: "fl"
    flagger: FlaggerReplay = field(default_factory=FlaggerReplay)
    #: "m": by metric name, in the order the metrics were first judged
    metrics: dict[str, MetricState] = field(default_factory=dict)
    #: "pz": onInconclusive pause has decided; the judge holds until a person promotes or rolls back
    paused: bool = False

    def copy(self) -> JudgeState:
        """A copy deep enough that a tick can update it and leave this one as it was."""
        return JudgeState(
            self.weight,
            self.hold_since,
            self.frozen_since,
            self.flagger,
            {name: metric.copy() for name, metric in self.metrics.items()},
            self.paused,
        )


# --- encoding ---------------------------------------------------------------------------------------------------


def encode_state(state: JudgeState) -> dict[str, Any]:
    """The state as written to status.judge.state (version 1; see the module docstring)."""
    out: dict[str, Any] = {
        "v": STATE_VERSION,
        "w": state.weight,
        "hs": state.hold_since,
        "fz": state.frozen_since,
        "fl": _encode_flagger(state.flagger),
        "m": {name: _encode_metric(metric) for name, metric in state.metrics.items()},
    }
    if state.paused:
        out["pz"] = True
    return out


def _encode_flagger(replay: FlaggerReplay) -> list[int]:
    out = [replay.failed, replay.checked]
    if replay.passes is not None:
        out.append(replay.passes)
        if replay.verdict is not None:
            out.append(replay.verdict)
    return out


def _encode_metric(metric: MetricState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if metric.sign is not None:
        sign = metric.sign
        out["z"] = [sign.log_fail, sign.log_pass, sign.used, sign.worse]
    if metric.relative is not None:
        out["r"] = [_encode_relative(test) for test in metric.relative]
    if metric.absolute is not None:
        out["a"] = _encode_absolute(metric.absolute)
    if metric.warmup is not None:
        out["wu"] = metric.warmup
    return out


def _encode_relative(test: RelativeTest) -> dict[str, Any]:
    out: dict[str, Any] = {"c": list(test.counts), "s": list(test.step_counts), "f": list(test.fail)}
    out["p"] = list(test.passing)
    if test.floor is not None:
        out["d"] = list(test.floor)
    out["x"] = list(test.splits)
    out["oc"] = test.overdispersion
    if test.exceedance:
        out["le"] = test.bound
    if test.pooled is not None:
        out["pb"] = [list(pair) for pair in test.pooled]
    if test.last_pass is not None:
        out["ep"] = test.last_pass
    return out


def _encode_absolute(test: AbsoluteTest) -> dict[str, Any]:
    out: dict[str, Any] = {"c": list(test.counts), "f": list(test.fail), "p": list(test.passing)}
    if test.own is not None:
        out["xa"] = list(test.own)
    if test.last is not None:
        out["e"] = list(test.last)
    return out


# --- decoding ---------------------------------------------------------------------------------------------------

_TOP_KEYS: Final = frozenset({"v", "w", "hs", "fz", "fl", "m", "pz"})
_METRIC_KEYS: Final = frozenset({"r", "a", "wu", "z"})
_RELATIVE_KEYS: Final = frozenset({"c", "s", "f", "p", "d", "x", "oc", "le", "pb", "ep"})
_ABSOLUTE_KEYS: Final = frozenset({"c", "f", "p", "xa", "e"})


def decode_state(raw: object) -> JudgeState:
    """A state as read from status.judge.state. Raises JudgeStateError naming the first field that is not what
    version 1 writes (an unknown version, a missing or unknown key, a value of the wrong type or length)."""
    where = "status.judge.state"
    top = _mapping(raw, where, _TOP_KEYS)
    version = top.get("v")
    if version != STATE_VERSION or isinstance(version, bool):
        raise JudgeStateError(f"{where}.v: version {version!r} is not one this judge reads ({STATE_VERSION})")
    metrics = _mapping(_required(top, "m", where), f"{where}.m")
    return JudgeState(
        weight=_integer(top["w"], f"{where}.w") if top.get("w") is not None else None,
        hold_since=_optional_number(top, "hs", where),
        frozen_since=_optional_number(top, "fz", where),
        flagger=_decode_flagger(_required(top, "fl", where), f"{where}.fl"),
        metrics={str(name): _decode_metric(value, f"{where}.m.{name}") for name, value in metrics.items()},
        paused=bool(top.get("pz")),
    )


def _decode_flagger(raw: object, where: str) -> FlaggerReplay:
    if not isinstance(raw, list) or not 2 <= len(raw) <= 4:
        raise JudgeStateError(f"{where}: expected a list of 2 to 4 integers, got {_kind(raw)}")
    values = [_integer(value, f"{where}[{index}]") for index, value in enumerate(raw)]
    passes = values[2] if len(values) > 2 else None
    verdict = values[3] if len(values) > 3 else None
    return FlaggerReplay(values[0], values[1], passes, verdict)


def _decode_metric(raw: object, where: str) -> MetricState:
    data = _mapping(raw, where, _METRIC_KEYS)
    out = MetricState()
    if "z" in data:
        z = _numbers(data["z"], f"{where}.z", 4)
        out.sign = SignTest(z[0], z[1], _integer(z[2], f"{where}.z[2]"), _integer(z[3], f"{where}.z[3]"))
    if "r" in data:
        tests = data["r"]
        if not isinstance(tests, list):
            raise JudgeStateError(f"{where}.r: expected a list of tests, got {_kind(tests)}")
        out.relative = [_decode_relative(test, f"{where}.r[{index}]") for index, test in enumerate(tests)]
    if "a" in data:
        out.absolute = _decode_absolute(data["a"], f"{where}.a")
    if "wu" in data:
        out.warmup = _integer(data["wu"], f"{where}.wu")
    return out


def _decode_relative(raw: object, where: str) -> RelativeTest:
    data = _mapping(raw, where, _RELATIVE_KEYS)
    pooled = None
    if "pb" in data:
        pairs = data["pb"]
        if not isinstance(pairs, list):
            raise JudgeStateError(f"{where}.pb: expected a list of [le, count] pairs, got {_kind(pairs)}")
        pooled = [_numbers(pair, f"{where}.pb[{index}]", 2) for index, pair in enumerate(pairs)]
    splits = _numbers(_required(data, "x", where), f"{where}.x")
    if len(splits) % 3:
        raise JudgeStateError(f"{where}.x: expected b_c, B, ρ per interval, got {len(splits)} numbers")
    return RelativeTest(
        counts=_numbers(_required(data, "c", where), f"{where}.c", 4),
        step_counts=_numbers(_required(data, "s", where), f"{where}.s", 4),
        fail=_numbers(_required(data, "f", where), f"{where}.f"),
        passing=_numbers(_required(data, "p", where), f"{where}.p"),
        floor=_numbers(data["d"], f"{where}.d") if "d" in data else None,
        splits=splits,
        overdispersion=_number(_required(data, "oc", where), f"{where}.oc"),
        exceedance="le" in data,
        bound=_optional_number(data, "le", where),
        pooled=pooled,
        last_pass=_optional_number(data, "ep", where),
    )


def _decode_absolute(raw: object, where: str) -> AbsoluteTest:
    data = _mapping(raw, where, _ABSOLUTE_KEYS)
    last = None
    if "e" in data:
        e_fail, e_pass = _numbers(data["e"], f"{where}.e", 2)
        last = (e_fail, e_pass)
    return AbsoluteTest(
        counts=_numbers(_required(data, "c", where), f"{where}.c", 4),
        fail=_numbers(_required(data, "f", where), f"{where}.f"),
        passing=_numbers(_required(data, "p", where), f"{where}.p"),
        own=_numbers(data["xa"], f"{where}.xa", 4) if "xa" in data else None,
        last=last,
    )


def _mapping(raw: object, where: str, keys: frozenset[str] | None = None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise JudgeStateError(f"{where}: expected an object, got {_kind(raw)}")
    if keys is not None:
        unknown = sorted(str(key) for key in raw if key not in keys)
        if unknown:
            raise JudgeStateError(f"{where}: unknown key {unknown[0]!r}")
    return raw


def _required(data: dict[str, Any], key: str, where: str) -> object:
    if key not in data:
        raise JudgeStateError(f"{where}: missing {key!r}")
    return data[key]


def _number(raw: object, where: str) -> float:
    # kept as it comes (an int stays an int), so that a state read back from the API server re-encodes unchanged
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise JudgeStateError(f"{where}: expected a number, got {_kind(raw)}")
    return raw


def _integer(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise JudgeStateError(f"{where}: expected an integer, got {_kind(raw)}")
    return raw


def _optional_number(data: dict[str, Any], key: str, where: str) -> float | None:
    raw = data.get(key)
    return None if raw is None else _number(raw, f"{where}.{key}")


def _numbers(raw: object, where: str, length: int | None = None) -> list[float]:
    if not isinstance(raw, list):
        raise JudgeStateError(f"{where}: expected a list of numbers, got {_kind(raw)}")
    if length is not None and len(raw) != length:
        raise JudgeStateError(f"{where}: expected {length} numbers, got {len(raw)}")
    # the common case checked at once (exact types: JSON gives int and float, never bool where a number is)
    if all(type(value) is float or type(value) is int for value in raw):
        return list(raw)
    return [_number(value, f"{where}[{index}]") for index, value in enumerate(raw)]


def _kind(raw: object) -> str:
    """A JSON value's type as a person reads it."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return "a number"
    if isinstance(raw, str):
        return "a string"
    if isinstance(raw, list):
        return "a list"
    return "an object"
