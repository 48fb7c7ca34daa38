"""The layer rule of docs/architecture.md (Layers) holds, and the import-linter contract really catches a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_contracts_hold_on_the_real_tree(tree_copy: Path) -> None:
    """The source tree as committed keeps every contract."""
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("engine", "import lightkube"),
        ("engine", "import kopf"),
        ("api", "import httpx2"),
        ("api", "import aiohttp"),
        ("engine", "from serinus import routers"),
        ("engine", "from serinus import net"),
        ("api", "from serinus.engine import ports"),
    ],
)
def test_a_forbidden_import_breaks_the_build(tree_copy: Path, module: str, line: str) -> None:
    """Importing an I/O library or an upper layer from api/engine makes lint-imports fail."""
    (tree_copy / "src" / "serinus" / module / "breach.py").write_text(f"{line}\n")
    result = _lint(tree_copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout.upper()
