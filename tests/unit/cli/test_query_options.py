"""`serinus query` refuses a --metrics-server it cannot request with one line and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CANARY = ROOT / "examples" / "podinfo" / "canary.yaml"


def _query(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "serinus.cli", "query", str(CANARY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("http://[bad", "Error: --metrics-server is not a valid URL (Invalid IPv6 URL)"),
        ("http://admin:hunter2@[bad", "Error: --metrics-server is not a valid URL (Invalid IPv6 URL)"),
        ("prometheus:9090", "Error: --metrics-server is not an http:// or https:// URL"),
        ("http://prometheus:99999", "Error: --metrics-server is not a valid URL (Port out of range 0-65535)"),
    ],
)
def test_a_malformed_metrics_server_is_one_line_and_exit_2(url: str, line: str) -> None:
    """A URL no client can use stops the command before any query: one line naming the option, exit 2, and the
    value never echoed (it may carry a password)."""
    result = _query("--metrics-server", url)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


def test_the_environment_variable_is_checked_the_same_way() -> None:
    """SERINUS_METRICS_SERVER gets the same check as the flag."""
    result = _query(env={"SERINUS_METRICS_SERVER": "http://[bad"})
    assert (result.returncode, result.stderr) == (2, "Error: --metrics-server is not a valid URL (Invalid IPv6 URL)\n")
