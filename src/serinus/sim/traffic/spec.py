"""The `traffic:` block as written: pydantic models that check it, and the ScenarioError naming the field at fault."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails

from serinus.api.base import camel
from serinus.api.duration import DurationError, duration_seconds
from serinus.api.problems import yaml_number
from serinus.sim.base import ScenarioError, time_seconds

#: Istio's istio_request_duration_milliseconds bounds (+Inf is added)
ISTIO_BOUNDS_MS: Final = (
    0.5,
    1,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    30000,
    60000,
    300000,
    600000,
    1800000,
    3600000,
)
DEFAULT_SUB_INTERVAL_S: Final = 10.0
DEFAULT_NOISE_INTERVAL_S: Final = 60.0
DEFAULT_DIURNAL_PERIOD_S: Final = 86400.0
#: a version the block leaves out: 0.1 % errors, latency 80 ms median with a log-scale sigma of 0.5
DEFAULT_ERROR_RATE: Final = 0.001
DEFAULT_MEDIAN_MS: Final = 80.0
DEFAULT_SIGMA: Final = 0.5

#: Upper bounds, far above any realistic value, that keep the generator's 64-bit request counts and its exp() from
#: overflowing: a million requests per second, a burst of a thousand times the rate, a log-normal sigma of 10,
#: clusters of a billion errors.
MAX_RPS: Final = 1e6
MAX_MULTIPLIER: Final = 1e3
MAX_SIGMA: Final = 10.0
MAX_STICKY_SIZE: Final = 10**9


# ----- field types: each refuses a bad value with the sentence `_problem` makes the message -----

#: a finite number: YAML's 1 and 1.0 alike, never true/false or text (strict: "0.1" is a mistake, not 0.1)
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: a share or probability, 0 to 1
Share = Annotated[Number, Field(ge=0, le=1)]
#: a log-normal sigma
Sigma = Annotated[Number, Field(ge=0, le=MAX_SIGMA)]
#: a factor that must stay above 0
Factor = Annotated[Number, Field(gt=0)]


def _whole(low: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{value!r} is not a whole number >= {low}")
        return value

    return check


def _millis(positive: bool) -> Callable[[object], float]:
    def check(value: object) -> float:
        """A latency: a duration (80ms, 1.5s) or a number of milliseconds."""
        if isinstance(value, str):
            try:
                ms = duration_seconds(value.strip()) * 1000.0
            except DurationError:
                raise ValueError(f"{value!r} is not a latency (use a duration such as 80ms)") from None
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a latency (use a duration such as 80ms)")
        else:
            ms = float(value)
        if not math.isfinite(ms):
            shown = repr(value) if isinstance(value, str) else yaml_number(ms)
            raise ValueError(f"{shown} is not a latency (a finite number of milliseconds)")
        if ms < 0 or (positive and ms == 0):
            raise ValueError(f"{value!r} must be {'above' if positive else 'at least'} 0")
        return ms

    return check


def _above_zero(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be above 0s")
    return seconds


def _list_of(what: str, nonempty: bool = False) -> Callable[[object], object]:
    def check(value: object) -> object:
        # a YAML sequence only: pydantic would also take a mapping's keys or a string's letters
        if not isinstance(value, list) or (nonempty and not value):
            raise ValueError(f"expected {what}")
        return value

    return check


def _increasing(bounds: tuple[float, ...]) -> tuple[float, ...]:
    if any(b >= c for b, c in itertools.pairwise(bounds)):
        raise ValueError("bounds must increase")
    return bounds


#: a point in time or a span: a Go duration or seconds (base.time_seconds)
Time = Annotated[float, BeforeValidator(time_seconds)]
#: a time step, above 0 s
Step = Annotated[Time, AfterValidator(_above_zero)]


def _after_at(until: float, info: ValidationInfo) -> float:
    # checked when `at`, the field before, was right
    at = info.data.get("at")
    if at is not None and until <= at:
        raise ValueError("must be after 'at'")
    return until


#: the end of a span that starts at the block's `at`
Until = Annotated[Time, AfterValidator(_after_at)]
#: a latency above 0 (a median, a bucket bound)
Millis = Annotated[float, BeforeValidator(_millis(positive=True))]
#: a latency of 0 or more (the tail's extra time)
MillisOrZero = Annotated[float, BeforeValidator(_millis(positive=False))]


class FieldProblem(ValueError):
    """A check of a whole block that blames one of its fields (`field`, as written)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Spec(BaseModel):
    """A block as written, camelCase keys only: a field left out keeps its default (a frozen instance for a nested
    block, shared, not copied) and stays out of `model_fields_set` (`given` tells the two apart, so a change or the
    canary can leave fields as they were). An explicit null is a mistake, as in the rest of a scenario, not a way
    to leave a field out."""

    model_config = ConfigDict(alias_generator=camel, frozen=True, extra="forbid")

    #: the block's keys as written, sorted; and the required ones, in field order, with a hint (the description)
    wire_keys: ClassVar[list[str]] = []
    required_keys: ClassVar[tuple[tuple[str, str | None], ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Compute the keys once per block, not once per validation."""
        super().__pydantic_init_subclass__(**kwargs)
        fields = [(f.alias or name, f) for name, f in cls.model_fields.items()]
        cls.wire_keys = sorted(key for key, _ in fields)
        cls.required_keys = tuple((key, f.description) for key, f in fields if f.is_required())

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: object) -> object:
        """A mapping of known keys holding the required ones, checked before any value (the first problem a person
        should fix)."""
        keys = cls.wire_keys
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a mapping with {', '.join(keys)}")
        unknown = set(data).difference(keys)
        if unknown:
            raise ValueError(f"unknown field {sorted(map(str, unknown))[0]!r} (expected one of {keys})")
        for key, hint in cls.required_keys:
            if key not in data:
                raise ValueError(f"missing '{key}'" + (f" ({hint})" if hint else ""))
        return data

    def given(self, name: str) -> Any:
        """The field's value when the block sets it, else None."""
        return getattr(self, name) if name in self.model_fields_set else None


class TailSpec(_Spec):
    """`latency.tail`: `fraction` of the requests take `add` longer."""

    fraction: Share = 0.0
    add: MillisOrZero = 0.0


class LatencySpec(_Spec):
    """`latency`: a log-normal body (median, log-scale sigma) and a tail."""

    median: Millis = DEFAULT_MEDIAN_MS
    sigma: Sigma = DEFAULT_SIGMA
    tail: TailSpec = TailSpec()


class StickySpec(_Spec):
    """`sticky`: `fraction` of a version's errors come in clusters of `size` (one client retrying)."""

    fraction: Share
    size: Annotated[int, BeforeValidator(_whole(1)), Field(le=MAX_STICKY_SIZE)]


class VersionSpec(_Spec):
    """`primary`, `canary` or a change's override: the fields it sets (the others keep the values in effect)."""

    error_rate: Share = DEFAULT_ERROR_RATE
    latency: LatencySpec = LatencySpec()
    error_drift: Number = 0.0
    sticky: StickySpec = StickySpec(fraction=0.0, size=1)


class ChangeSpec(_Spec):
    """`changes[]`: from `at` (until `until`) the overrides of primary, canary or both (shared); `ramp` spreads the
    change over a time, `aboveWeight` applies it to the canary only while its share reaches that weight."""

    at: Time
    #: for good, left out
    until: Until = math.inf
    primary: VersionSpec = VersionSpec()
    canary: VersionSpec = VersionSpec()
    shared: VersionSpec = VersionSpec()
    ramp: Time = 0.0
    #: 0, left out: at any share
    above_weight: Annotated[Number, Field(gt=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _applies(self) -> Self:
        """A change sets something; `aboveWeight` goes with a canary override only."""
        sides = [k for k in ("primary", "canary", "shared") if k in self.model_fields_set]
        if not sides:
            raise ValueError("expected canary, primary or shared")
        if "above_weight" in self.model_fields_set:
            if "canary" not in sides:
                raise FieldProblem(
                    "aboveWeight",
                    f"needs a canary override (the change applies to the canary while its share is at least "
                    f"{self.above_weight:g})",
                )
            other = next((k for k in sides if k != "canary"), None)
            if other is not None:
                raise FieldProblem(
                    "aboveWeight", f"applies to the canary only; move '{other}' to a change without aboveWeight"
                )
        return self


class SpanSpec(_Spec):
    """`gaps[]`, `providerErrors[]`: the span [at, until)."""

    at: Time
    until: Until


class DiurnalSpec(_Spec):
    """`diurnal`: the request rate times 1 + amplitude · sin(2π (t + phase) / period)."""

    amplitude: Share = 0.0
    period: Step = DEFAULT_DIURNAL_PERIOD_S
    phase: Time = 0.0


class ChanceSpec(_Spec):
    """`blips`, `bursts`: per noise interval, with chance `probability`, a factor `multiplier`."""

    probability: Share = 0.0
    multiplier: Annotated[Factor, Field(le=MAX_MULTIPLIER)] = 1.0


class WarmupSpec(_Spec):
    """`warmup`: latency times `multiplier` for `duration` after a version scales up."""

    multiplier: Factor = 1.0
    duration: Time = 0.0


class TrafficSpec(_Spec):
    """`traffic:` (docs/simulate.md, Traffic). The fields are in the order they are checked."""

    rps: Annotated[Number, Field(ge=0, le=MAX_RPS)] = Field(description="total requests per second")
    seed: Annotated[int, BeforeValidator(_whole(0))] = 0
    sub_interval: Step = DEFAULT_SUB_INTERVAL_S
    noise_interval: Step = DEFAULT_NOISE_INTERVAL_S
    buckets: Annotated[
        tuple[Millis, ...],
        BeforeValidator(_list_of("a list of upper bounds in ms", nonempty=True)),
        AfterValidator(_increasing),
    ] = ISTIO_BOUNDS_MS
    primary: VersionSpec = VersionSpec()
    canary: VersionSpec = VersionSpec()
    changes: Annotated[
        tuple[ChangeSpec, ...], BeforeValidator(_list_of("a list such as [{at: 6m, canary: {errorRate: 0.01}}]"))
    ] = ()
    diurnal: DiurnalSpec = DiurnalSpec()
    shared_sigma: Sigma = 0.0
    overdispersion: Sigma = 0.0
    blips: ChanceSpec = ChanceSpec()
    bursts: ChanceSpec = ChanceSpec()
    srm: Factor = 1.0
    warmup: WarmupSpec = WarmupSpec()
    gaps: Annotated[
        tuple[SpanSpec, ...], BeforeValidator(_list_of("a list of spans such as [{at: 5m, until: 6m}]"))
    ] = ()
    provider_errors: Annotated[
        tuple[SpanSpec, ...], BeforeValidator(_list_of("a list of spans such as [{at: 5m, until: 6m}]"))
    ] = ()


def parse_spec(raw: object, where: str = "traffic") -> TrafficSpec:
    """Check a `traffic:` block; the first mistake (in the order the fields are listed) raises ScenarioError naming
    the field path under `where` and the bad value."""
    try:
        return TrafficSpec.model_validate(raw)
    except ValidationError as err:
        path, reason = _problem(err.errors(include_url=False)[0])
        raise ScenarioError(f"{where}{_path_text(path)}: {reason}") from None


#: pydantic's range errors: (the words, the key of the bound in the error's context)
_BOUNDS: Final = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("above", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("below", "lt"),
}


def _problem(item: ErrorDetails) -> tuple[Sequence[str | int], str]:
    """(path, reason) of one pydantic error, in the words of the rest of the scenario's messages."""
    path: list[str | int] = list(item["loc"])
    value = item.get("input")
    ctx = item.get("ctx") or {}
    kind = item["type"]
    if kind == "value_error":
        error = ctx.get("error")
        if isinstance(error, FieldProblem):
            path.append(error.field)
        return path, str(error)
    if kind == "float_type":
        # an int too large for a float is the one number that is not a float
        what = "a finite number" if isinstance(value, int) and not isinstance(value, bool) else "a number"
        return path, f"{value!r} is not {what}"
    if kind == "finite_number":
        return path, f"{yaml_number(value)} is not a finite number"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return path, f"{value!r} must be {words} {ctx[key]:g}"
    # not reached by the models above; pydantic's own words, as `serinus validate` shows them
    text = item["msg"]
    return path, f"{text[:1].lower()}{text[1:]}, got {value!r}"


def _path_text(path: Sequence[str | int]) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
