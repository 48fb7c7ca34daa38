"""The judge's state codec: every status.judge.state written before the typed records (data/) is read, written
back unchanged, and judged on to the same verdicts, ledger and next state."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serinus.api import Canary
from serinus.engine.judge.config import judge_config
from serinus.engine.judge.state import STATE_VERSION, FlaggerReplay, JudgeState, decode_state, encode_state
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import Observation, Tick, VersionCounts
from serinus.errors import JudgeStateError

DATA = Path(__file__).parent / "data"
FIXTURES = sorted(DATA.glob("*.json"))

#: the order in which the judge creates each object's keys in a run counted from its first interval
_ORDER = {
    "top": ("v", "w", "hs", "fz", "fl", "m", "pz"),
    "metric": ("z", "r", "a", "wu"),
    "relative": ("c", "s", "f", "p", "d", "x", "oc", "le", "pb", "ep"),
    "absolute": ("c", "f", "p", "xa", "e"),
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _states(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for tick in doc["ticks"]:
        for key in ("in", "out"):
            if tick.get(key):
                yield tick[key]


def _ordered(keys: tuple[str, ...], value: dict[str, Any]) -> dict[str, Any]:
    return {key: value[key] for key in keys if key in value}


def writer_order(state: dict[str, Any]) -> dict[str, Any]:
    """`state` with its keys in the order the judge creates them (the API server sorts keys; a test whose first
    interval was not counted got "e" before "xa"; states of earlier releases got new keys appended)."""
    metrics = {}
    for name, metric in state["m"].items():
        out = _ordered(_ORDER["metric"], metric)
        if "r" in out:
            out["r"] = [_ordered(_ORDER["relative"], test) for test in out["r"]]
        if "a" in out:
            out["a"] = _ordered(_ORDER["absolute"], out["a"])
        metrics[name] = out
    return _ordered(_ORDER["top"], {**state, "m": metrics})


def as_stored(value: Any) -> Any:
    """What the API server keeps of a JSON value: Go sorts object keys and writes a whole float as an integer."""
    if isinstance(value, dict):
        return {key: as_stored(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [as_stored(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_stored_state_decodes_and_encodes_to_the_same_json(path: Path) -> None:
    """Each state in data/ (written by the judge before its state was typed, by three earlier releases, and as the
    API server gives it back) decodes and re-encodes to the same JSON text, number spelling included (an int the
    API server wrote stays an int); key order is the judge's own, and what the API server stores is unchanged."""
    states = list(_states(_load(path)))
    assert states
    for state in states:
        encoded = encode_state(decode_state(state))
        assert json.dumps(encoded, sort_keys=True) == json.dumps(state, sort_keys=True)
        assert json.dumps(encoded) == json.dumps(writer_order(state))
        assert json.dumps(as_stored(encoded)) == json.dumps(as_stored(state))


def _counts(raw: dict[str, Any] | None) -> VersionCounts | None:
    if raw is None:
        return None
    # numbers as recorded (a bound written as 1000 is an int, as the judge was given it)
    buckets = tuple((math.inf if le == "+Inf" else le, n) for le, n in raw.get("buckets", ()))
    return VersionCounts(raw.get("requests"), raw.get("bad"), buckets, raw.get("value"))


def _observation(raw: dict[str, Any]) -> Observation:
    canary = _counts(raw["canary"])
    assert canary is not None
    return Observation(
        raw["metric"],
        kind=raw["kind"],
        canary=canary,
        primary=_counts(raw.get("primary")),
        error=raw.get("error"),
        queries=tuple(raw.get("queries", ())),
        failure=raw.get("failure", ""),
    )


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_recorded_ticks_replay_to_the_same_verdicts_ledger_and_state(path: Path) -> None:
    """Every recorded tick, judged again from its stored input state (read through the codec, as the engine reads
    status.judge): the same verdict, reason, prediction, policy, ledger lines and next state, to the byte."""
    doc = _load(path)
    config = judge_config(Canary.model_validate(doc["canary"]))
    assert config is not None
    previous: dict[str, Any] | None = None
    for index, recorded in enumerate(doc["ticks"]):
        stored = recorded.get("in", previous)
        tick = Tick(**recorded["tick"])
        observations = [_observation(raw) for raw in recorded["observations"]]
        result = judge_tick(config, decode_state(stored) if stored else None, tick, observations)
        where = f"{path.stem} tick {index}"
        assert (str(result.verdict), result.reason) == (recorded["verdict"], recorded["reason"]), where
        assert (result.predicted_s, result.policy) == (recorded["predicted_s"], recorded["policy"]), where
        assert json.dumps([line.to_json() for line in result.lines]) == json.dumps(recorded["lines"]), where
        assert json.dumps(encode_state(result.state)) == json.dumps(writer_order(recorded["out"])), where
        previous = recorded["out"]


def test_a_new_state_is_what_the_first_tick_reads() -> None:
    """The empty state encodes as version 1 with nothing counted, the layout every run starts from."""
    assert encode_state(JudgeState()) == {"v": 1, "w": None, "hs": None, "fz": None, "fl": [0, 0, 0, 0], "m": {}}
    assert STATE_VERSION == 1


def test_flagger_replay_of_an_early_release_keeps_its_two_counts_until_a_tick_adds_the_rest() -> None:
    """An "fl" of only [failed, checked] (the judge has always read one so) is read with Flagger's schedule unknown,
    written back as it came, and a judged tick writes all four numbers, counting on from the two."""
    doc = _load(DATA / "sim-error-regression.json")
    recorded = doc["ticks"][6]
    state = dict(recorded.get("in") or doc["ticks"][5]["out"])
    state["fl"] = [1, 6]
    decoded = decode_state(state)
    assert decoded.flagger == FlaggerReplay(1, 6, None, None)
    assert encode_state(decoded)["fl"] == [1, 6]
    config = judge_config(Canary.model_validate(doc["canary"]))
    assert config is not None
    tick = Tick(recorded["tick"]["at"], recorded["tick"]["window_s"], recorded["tick"]["weight"], False)
    result = judge_tick(config, decoded, tick, [_observation(raw) for raw in recorded["observations"]])
    assert encode_state(result.state)["fl"] == [1, 7, 1, 0]
    assert encode_state(decoded)["fl"] == [1, 6]  # the input state is not modified


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(v=2), "status.judge.state.v: version 2 is not one this judge reads (1)"),
        (lambda s: s.pop("fl"), "status.judge.state: missing 'fl'"),
        (lambda s: s.update(fl=[0]), "status.judge.state.fl: expected a list of 2 to 4 integers, got a list"),
        (lambda s: s.update(extra=1), "status.judge.state: unknown key 'extra'"),
        (
            lambda s: s["m"]["request-success-rate"]["r"][0].update(c=[1, 2, 3]),
            "status.judge.state.m.request-success-rate.r[0].c: expected 4 numbers, got 3",
        ),
        (
            lambda s: s["m"]["request-duration"]["a"].update(f=[0.0, "x"]),
            "status.judge.state.m.request-duration.a.f[1]: expected a number, got a string",
        ),
        (
            lambda s: s["m"]["request-duration"].update(wu=0.5),
            "status.judge.state.m.request-duration.wu: expected an integer, got a number",
        ),
    ],
)
def test_an_unreadable_state_is_an_error_naming_the_field(change: Any, message: str) -> None:
    """A state this judge did not write (another version, a missing or unknown key, a wrong type or length) is
    refused with the field's path, instead of being judged on."""
    state = json.loads(json.dumps(_load(DATA / "sim-error-regression.json")["ticks"][5]["out"]))
    change(state)
    with pytest.raises(JudgeStateError) as raised:
        decode_state(state)
    assert str(raised.value) == message
