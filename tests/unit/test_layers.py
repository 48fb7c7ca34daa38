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


#: the acyclic_siblings contract of pyproject.toml
CYCLES = "No import cycles inside api, engine and sim"


@pytest.mark.parametrize(
    ("module", "line", "contracts"),
    [
        # the cycle sim/traffic.py and sim/scenario.py once had
        ("sim/traffic/spec.py", "from serinus.sim.scenario import Scenario", ("sim is layered", CYCLES)),
        ("sim/base.py", "from serinus.sim import runner", ("sim is layered", CYCLES)),
        ("sim/traffic/model.py", "from serinus.sim.traffic import generator", ("sim.traffic is layered",)),
        ("engine/weights.py", "from serinus.engine import strategies", ("engine is layered", CYCLES)),
        ("engine/ports.py", "from serinus.engine import step", ("engine is layered", CYCLES)),
        ("api/problems.py", "from serinus.api import check", ("api is layered", CYCLES)),
        ("api/base.py", "from serinus.api import canary", ("api is layered", CYCLES)),
        ("api/rules/context.py", "from serinus.api.rules import checks", ("api.rules is layered", CYCLES)),
    ],
)
def test_an_import_cycle_inside_a_package_breaks_the_build(
    tree_copy: Path, module: str, line: str, contracts: tuple[str, ...]
) -> None:
    """A module importing one above it in its own package, which imports it back, makes lint-imports fail, naming
    the package's contract."""
    path = tree_copy / "src" / "serinus" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa: E402\n")
    result = _lint(tree_copy)
    assert result.returncode != 0
    for name in contracts:
        assert f"{name} BROKEN" in " ".join(result.stdout.split()), result.stdout


def test_a_cycle_between_new_modules_breaks_the_build(tree_copy: Path) -> None:
    """Two modules no layer names yet that import each other still fail lint-imports."""
    engine = tree_copy / "src" / "serinus" / "engine"
    (engine / "one.py").write_text("from serinus.engine import two\n")
    (engine / "two.py").write_text("from serinus.engine import one\n")
    result = _lint(tree_copy)
    assert result.returncode != 0
    assert f"{CYCLES} BROKEN" in " ".join(result.stdout.split())


def test_a_new_sim_module_must_take_a_layer(tree_copy: Path) -> None:
    """The sim contracts are exhaustive: a module none of their layers names fails lint-imports until it is placed."""
    (tree_copy / "src" / "serinus" / "sim" / "traffic" / "extra.py").write_text('"""Not yet in a layer."""\n')
    result = _lint(tree_copy)
    assert result.returncode != 0
    assert "sim.traffic is layered BROKEN" in " ".join(result.stdout.split())
