"""Helpers shared by every test tier: where the shared reference material lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    """`../shared/reference` beside the repository (CI clones the repo with shared/ next to it)."""
    path = (REPO / ".." / "shared" / "reference").resolve()
    if not (path / "flagger.md").is_file() or not (path / "flagger" / "crd.yaml").is_file():
        raise FileNotFoundError(
            f"the shared reference material is missing: expected {path}/flagger.md and {path}/flagger/crd.yaml "
            "(check out shared/ beside the repository)"
        )
    return path


@pytest.fixture(scope="session")
def reference() -> Path:
    """The shared reference directory; fails the test with a clear message when it is not there."""
    try:
        return reference_dir()
    except FileNotFoundError as err:
        pytest.fail(str(err), pytrace=False)
