"""Upstream files the tests read, from Go modules pinned in tests/cluster/versions.env.

Each module is fetched with `go mod download -json <module>@<version>` into the Go module cache that
scripts/build-test-binaries uses, so the tests need nothing beside the repository: Flagger's CRDs and example
Canaries come from Flagger's own module (artifacts/flagger/crd.yaml, artifacts/examples/*.yaml), exactly as the
pinned release ships them.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "scripts" / "build-test-binaries"
VERSIONS_FILE = ROOT / "tests" / "cluster" / "versions.env"
FLAGGER_MODULE = "github.com/fluxcd/flagger"


class GoModuleError(RuntimeError):
    """A pinned Go module could not be fetched; the message names the step and what it printed."""


def pinned_versions() -> dict[str, str]:
    """The versions in tests/cluster/versions.env (or the file $SERINUS_VERSIONS_FILE names)."""
    out: dict[str, str] = {}
    path = Path(os.environ.get("SERINUS_VERSIONS_FILE") or VERSIONS_FILE)
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@functools.cache
def module_dir(module: str, version: str) -> Path:
    """The unpacked module in the build's Go module cache, downloaded if missing."""
    step = f"go mod download {module}@{version}"
    try:
        gomodcache = subprocess.run(
            [str(BUILD_SCRIPT), "--print-gomodcache"], capture_output=True, text=True, check=True
        ).stdout.strip()
        env = {**os.environ, "GOMODCACHE": gomodcache, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
        with tempfile.TemporaryDirectory() as scratch:  # outside any go.mod
            proc = subprocess.run(
                ["go", "mod", "download", "-json", f"{module}@{version}"],
                cwd=scratch,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
    except (OSError, subprocess.SubprocessError) as err:
        raise GoModuleError(f"{step}: {err}") from err
    try:
        info = json.loads(proc.stdout)
    except ValueError as err:
        raise GoModuleError(f"{step}: exit {proc.returncode}: {proc.stderr.strip()}") from err
    if info.get("Error") or not info.get("Dir"):
        raise GoModuleError(f"{step}: {info.get('Error') or proc.stderr.strip()}")
    return Path(info["Dir"])


def flagger_dir() -> Path:
    """Flagger's module at the pinned release (FLAGGER_VERSION in versions.env)."""
    return module_dir(FLAGGER_MODULE, "v" + pinned_versions()["FLAGGER_VERSION"])


def flagger_crd_file() -> Path:
    """Flagger's own CRDs (Canary, MetricTemplate, AlertProvider) as its release ships them."""
    return flagger_dir() / "artifacts" / "flagger" / "crd.yaml"


def flagger_example(name: str) -> Path:
    """One of Flagger's example Canaries, by its file name without `.yaml` (`istio-canary`, `kuma-canary`, ...)."""
    return flagger_dir() / "artifacts" / "examples" / f"{name}.yaml"


def flagger_examples() -> list[Path]:
    """Every example Canary Flagger ships (artifacts/examples/*.yaml), sorted by name."""
    return sorted((flagger_dir() / "artifacts" / "examples").glob("*.yaml"))
