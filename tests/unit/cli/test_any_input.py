"""No input makes a command print a traceback or hang (hypothesis): mutated manifests, scenarios and raw bytes
through `validate`, `simulate`, `render` and `query`, in-process, each ending with exit 0, 1 or 2 and, on an
error, one line naming the file, within a CPU-time and a memory bound.

The runs are derandomized and use no example database, so CI sees the same examples every time
(SERINUS_FUZZ_EXAMPLES=N runs N fresh random examples per property instead). Time is measured
as this process's CPU time, which other work on the machine does not inflate; a wall-clock alarm catches a run
that waits instead of computing.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serinus.cli import main
from tests.conftest import REPO
from tests.unit.cli.conftest import NetworkGuard, Recorder
from tests.unit.cli.test_render import DEPLOYMENT

#: CPU seconds one command may take on any input
CPU_LIMIT_S = 5.0
#: wall-clock seconds before a run counts as hung (generous: the machine may be busy)
WALL_LIMIT_S = 120
#: how much the process' peak resident memory may grow over a whole property
RSS_GROWTH_LIMIT = 512 * 1024 * 1024
#: peak Python allocations of one command on the adversarial inputs
TRACED_LIMIT = 64 * 1024 * 1024

EXAMPLES = REPO / "examples" / "podinfo"
CANARY = yaml.safe_load((EXAMPLES / "canary.yaml").read_text())
JUDGE_CANARY = yaml.safe_load((EXAMPLES / "judge-canary.yaml").read_text())
SCENARIOS = [
    yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml")) if "kind: Canary" not in p.read_text()
]
ALERT_PROVIDER = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "AlertProvider",
    "metadata": {"name": "team", "namespace": "test"},
    "spec": {"type": "slack", "channel": "releases", "address": "http://127.0.0.1:1/slack"},
}
PROMETHEUS_ANSWER = json.dumps(
    {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "99.5"]}]}}
).encode()

NAN, INF = float("nan"), float("inf")
#: values a careless hand or an attacker writes where something else was expected
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1,
    2**31,
    -(2**31) - 1,
    2**63,
    10**40,
    0.5,
    1e38,
    1e-300,
    NAN,
    INF,
    -INF,
    "",
    "x",
    "1e38",
    "0s",
    "-1s",
    "1ns",
    "999999h",
    ".nan",
    "é\u202e",
    "a" * 300,
    "{{ interval }}",
    "http://127.0.0.1:1/",
    [],
    {},
    [1, "a"],
    {"a": None},
]


#: numbers and strings of the same type as what they replace: fields keep their shape, values go wrong
NUMBERS: list[Any] = [0, -1, 1, 2, 100, 101, 2**31, 2**63, 10**40, 0.5, 1e-300, 1e38, NAN, INF, -INF]
STRINGS: list[Any] = ["", "x", "0s", "1ns", "-1s", "1m", "999999h", "1e38", ".nan", "{{ interval }}", "a" * 300]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a document where a value can be replaced or removed."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _paths(item, (*path, index))


def _mutate(data: st.DataObject, doc: Any) -> Any:
    """One to three edits of a document: a value replaced by an odd one, a field removed or misspelt, a value
    moved into a list, or the whole document replaced."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.sampled_from([1, 1, 1, 2, 3]), label="edits")):
        paths = list(_paths(doc))
        if not paths:
            return copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES), label="document"))
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        op = data.draw(st.sampled_from(["replace", "replace", "remove", "misspell", "wrap"]), label="op")
        if op == "replace":
            current = parent[last]
            alike = NUMBERS if isinstance(current, int | float) and not isinstance(current, bool) else STRINGS
            same_kind = isinstance(current, int | float | str) and data.draw(st.booleans(), label="same kind")
            # a copy: a later edit must not change the list of values itself
            parent[last] = copy.deepcopy(data.draw(st.sampled_from(alike if same_kind else ODD_VALUES), label="value"))
        elif op == "remove":
            del parent[last]
        elif op == "misspell" and isinstance(last, str):
            parent[last[:-1] + last[-1:].upper() + "x"] = parent.pop(last)
        elif op == "wrap":
            parent[last] = [parent[last]]
    return doc


def _bytes(data: st.DataObject, docs: list[Any]) -> bytes:
    """Documents as YAML, then maybe a few bytes changed: anything from a typo to a control character or bytes
    that are not UTF-8."""
    raw = yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False).encode()
    for _ in range(data.draw(st.sampled_from([0, 0, 0, 1, 2]), label="byte edits")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        op = data.draw(st.sampled_from(["set", "insert", "cut", "truncate"]), label="byte op")
        if op == "set" and at < len(raw):
            raw = raw[:at] + bytes([data.draw(st.integers(0, 255), label="byte")]) + raw[at + 1 :]
        elif op == "insert":
            raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=4), label="bytes") + raw[at:]
        elif op == "cut":
            raw = raw[:at] + raw[at + data.draw(st.integers(1, 20), label="cut") :]
        else:
            raw = raw[:at]
    return raw


class _Hung(Exception):
    """A command ran past the wall-clock limit."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hung(f"no answer within {WALL_LIMIT_S}s")


@dataclass
class Bounds:
    """The CPU-time and memory bounds every run is checked against."""

    rss_start: int

    def run(self, args: list[str]) -> Result:
        """Run `serinus ARGS` in-process under the time bounds."""
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(WALL_LIMIT_S)
        began = time.process_time()
        try:
            result = CliRunner().invoke(main, args)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        spent = time.process_time() - began
        assert spent < CPU_LIMIT_S, f"serinus {' '.join(args)} took {spent:.1f}s of CPU"
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.rss_start
        assert grown < RSS_GROWTH_LIMIT, f"serinus {' '.join(args)}: peak memory grew by {grown >> 20} MB"
        return result


@pytest.fixture
def bounds() -> Bounds:
    """Bounds measured from this test's start."""
    return Bounds(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def check_clean(result: Result, files: list[Path]) -> None:
    """Exit 0, 1 or 2, no traceback, and an error is one line naming one of the files."""
    names = [str(f) for f in files]
    context = f"exit {result.exit_code}: {result.output[-2000:]!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}; {context}"
    )
    assert result.exit_code in (0, 1, 2), context
    assert "Traceback" not in result.output, context
    if result.output.startswith("Error:"):
        assert result.output.count("\n") == 1, context
        assert any(f"Error: {name}: " in result.output for name in names), context


def check_validate(result: Result, files: list[Path]) -> None:
    """validate: every line is about a file (`file:...`) or an object's verdict (`kind/name: valid`)."""
    check_clean(result, files)
    for line in result.output.splitlines():
        assert line.endswith(": valid") or any(line.startswith(str(f)) for f in files), (
            f"{line!r} names no file; exit {result.exit_code}"
        )


def _write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


#: SERINUS_FUZZ_EXAMPLES=2000 searches harder, with fresh random examples each run (to hunt locally, not in CI)
_EXAMPLES = int(os.environ.get("SERINUS_FUZZ_EXAMPLES", "0"))
PROPERTY = settings(
    max_examples=_EXAMPLES or 60,
    derandomize=not _EXAMPLES,
    database=None,
    deadline=None,  # wall-clock time depends on the machine's load; CPU time is bounded in Bounds.run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(data=st.data())
def test_validate_any_manifest(
    tmp_path: Path, bounds: Bounds, network_guard: NetworkGuard, data: st.DataObject
) -> None:
    """validate on mutated Canaries, MetricTemplates, AlertProviders and workloads, alone or together."""
    seeds = [CANARY, JUDGE_CANARY, ALERT_PROVIDER, DEPLOYMENT, _template("http://127.0.0.1:1")]
    docs = [_mutate(data, seed) for seed in data.draw(st.lists(st.sampled_from(seeds), min_size=1, max_size=3))]
    path = _write(tmp_path / "manifests.yaml", _bytes(data, docs))
    check_validate(bounds.run(["validate", str(path)]), [path])
    assert network_guard.attempts == []


@PROPERTY
@given(data=st.data())
def test_simulate_any_canary_and_scenario(
    tmp_path: Path, bounds: Bounds, network_guard: NetworkGuard, data: st.DataObject
) -> None:
    """simulate with a mutated Canary or a mutated scenario (its traffic block included)."""
    canary, scenario = data.draw(st.sampled_from([CANARY, JUDGE_CANARY])), data.draw(st.sampled_from(SCENARIOS))
    if data.draw(st.booleans(), label="mutate the canary"):
        canary = _mutate(data, canary)
    else:
        scenario = _mutate(data, scenario)
    canary_path = _write(tmp_path / "canary.yaml", _bytes(data, [canary]))
    scenario_path = _write(tmp_path / "scenario.yaml", _bytes(data, [scenario]))
    result = bounds.run(["simulate", str(canary_path), "--scenario", str(scenario_path), "-o", "json"])
    check_clean(result, [canary_path, scenario_path])
    assert network_guard.attempts == []


@PROPERTY
@given(data=st.data())
def test_render_any_canary_and_target(
    tmp_path: Path, bounds: Bounds, network_guard: NetworkGuard, data: st.DataObject
) -> None:
    """render with a mutated Canary or mutated target objects (and an AlertProvider it alerts)."""
    canary = copy.deepcopy(CANARY)
    canary["spec"]["analysis"]["alerts"] = [{"name": "team", "severity": "info", "providerRef": {"name": "team"}}]
    others: list[Any] = [DEPLOYMENT, ALERT_PROVIDER]
    if data.draw(st.booleans(), label="mutate the canary"):
        canary = _mutate(data, canary)
    else:
        others = [_mutate(data, doc) for doc in others]
    canary_path = _write(tmp_path / "canary.yaml", _bytes(data, [canary]))
    target_path = _write(tmp_path / "target.yaml", _bytes(data, others))
    result = bounds.run(["render", str(canary_path), "--target", str(target_path)])
    check_clean(result, [canary_path, target_path])
    assert network_guard.attempts == []


def _template(address: str) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "errors", "namespace": "test"},
        "spec": {"provider": {"type": "prometheus", "address": address}, "query": "sum(rate(errors[{{ interval }}]))"},
    }


@PROPERTY
@given(data=st.data())
def test_query_any_canary_and_templates(
    tmp_path: Path,
    bounds: Bounds,
    network_guard: NetworkGuard,
    http_recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    data: st.DataObject,
) -> None:
    """query with a mutated Canary or MetricTemplate, against a local Prometheus (nothing beyond loopback)."""
    network_guard.strict = False
    http_recorder.answer = (200, PROMETHEUS_ANSWER)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    canary = copy.deepcopy(CANARY)
    canary["spec"]["analysis"]["metrics"].append(
        {"name": "errors", "templateRef": {"name": "errors"}, "interval": "1m"}
    )
    template = _template(http_recorder.url)
    if data.draw(st.booleans(), label="mutate the canary"):
        canary = _mutate(data, canary)
    else:
        template = _mutate(data, template)
    canary_path = _write(tmp_path / "canary.yaml", _bytes(data, [canary]))
    templates_path = _write(tmp_path / "templates.yaml", _bytes(data, [template]))
    args = ["query", str(canary_path), "--templates", str(templates_path), "--metrics-server", http_recorder.url]
    check_clean(bounds.run([*args, "-o", "json"]), [canary_path, templates_path])
    assert network_guard.attempts == []


def _bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]" for p, x in zip("abcdefgh", "bcdefghi", strict=True)]
    return ("\n".join(lines) + "\n").encode()


ADVERSARIAL: dict[str, bytes] = {
    "alias bomb": _bomb(),
    "deep flow nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep block nesting": "".join("  " * i + "k:\n" for i in range(150)).encode(),
    "alias cycle": b"a: &a [1, *a]\n",
    "control character": b"apiVersion: v1\x07\n",
    "not UTF-8": b"\xff\xfe\x00a\x00p\x00i",
    "byte order mark": b"\xef\xbb\xbf" + (EXAMPLES / "canary.yaml").read_bytes(),
    "NUL bytes": b"\x00" * 100,
    "empty": b"",
    "only a separator": b"---\n",
    "a scalar": b"42\n",
    "a huge integer": b"threshold: " + b"9" * 5000 + b"\n",
    "python tag": b"!!python/object/apply:os.system ['true']\n",
    "binary and set tags": b"a: !!binary aGk=\nb: !!set {x}\n",
    "wrong values under tags": b"a: !!int foo\nb: !!timestamp now\n",
    "unknown tag": b"a: !custom 1\n",
    "tabs": b"\tkind: Canary\n",
}


#: the files that would take memory without the loader's bounds: their runs are traced with tracemalloc
EXPANDING = {"alias bomb", "deep flow nesting", "deep block nesting", "alias cycle", "a huge integer"}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_hostile_files_for_every_command(
    tmp_path: Path, bounds: Bounds, network_guard: NetworkGuard, name: str
) -> None:
    """Each hostile file, given to every command in every place a file goes: a clean exit and one line naming it,
    in bounded CPU time; the expanding ones with under 64 MB of Python allocations."""
    hostile = _write(tmp_path / "hostile.yaml", ADVERSARIAL[name])
    canary = _write(tmp_path / "canary.yaml", (EXAMPLES / "canary.yaml").read_bytes())
    target = _write(tmp_path / "target.yaml", yaml.safe_dump(DEPLOYMENT).encode())
    runs = [
        ["validate", str(hostile)],
        ["simulate", str(hostile)],
        ["simulate", str(canary), "--scenario", str(hostile)],
        ["render", str(hostile), "--target", str(target)],
        ["render", str(canary), "--target", str(hostile)],
        ["query", str(hostile), "--metrics-server", "http://127.0.0.1:1"],
        ["query", str(canary), "--templates", str(hostile), "--metrics-server", "http://127.0.0.1:1"],
    ]
    for args in runs:
        if name in EXPANDING:
            tracemalloc.start()
            try:
                result = bounds.run(args)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < TRACED_LIMIT, f"serinus {' '.join(args)} allocated {peak >> 20} MB"
        else:
            result = bounds.run(args)
        if args[0] == "validate":
            check_validate(result, [hostile])
        else:
            check_clean(result, [hostile, canary, target])
    assert all("127.0.0.1" in attempt for attempt in network_guard.attempts)


#: the address space the real process gets: the commands need about 300 MB on a valid Canary
ADDRESS_SPACE = 512 * 1024 * 1024


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def test_the_alias_bomb_in_real_processes_under_a_512_mib_address_space(tmp_path: Path) -> None:
    """`serinus` itself, in a process that cannot map more than 512 MiB (it needed over 2 GB within 20 s before):
    every command refuses the 342-byte alias bomb with its exit code and one line, in bounded time."""
    bomb = _write(tmp_path / "bomb.yaml", _bomb())
    canary = _write(tmp_path / "canary.yaml", (EXAMPLES / "canary.yaml").read_bytes())
    runs = {
        ("validate", str(bomb)): 1,
        ("simulate", str(canary), "--scenario", str(bomb)): 2,
        ("render", str(canary), "--target", str(bomb)): 1,
        ("query", str(bomb)): 1,
    }
    env = {"PATH": os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1", "HOME": str(tmp_path)}
    for args, code in runs.items():
        done = subprocess.run(
            [sys.executable, "-m", "serinus.cli", *args],
            preexec_fn=_limit_address_space,
            capture_output=True,
            text=True,
            env=env,
            timeout=WALL_LIMIT_S,
            check=False,
        )
        lines = (done.stdout + done.stderr).splitlines()
        assert done.returncode == code, lines
        assert len(lines) == 1, lines
        assert "its aliases expand to more than 10,000 values" in lines[0]
        assert str(bomb) in lines[0]
