"""The real helm and kustomize binaries (built by scripts/build-test-binaries with the control plane) without a
running control plane: for tests that only render and read manifests."""

from __future__ import annotations

import copy
import functools
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.controlplane import CHART, OPERATOR_NAMESPACE, OPERATOR_RELEASE, ControlPlaneError, build_binaries
from tests.gomodules import pinned_versions


@functools.cache
def bin_dir() -> Path:
    """The directory holding helm and kustomize (a no-op build when cached); fails the test when it cannot be built."""
    log = Path(tempfile.mkdtemp(prefix="serinus-render-")) / "build.log"
    try:
        return build_binaries(log)
    except ControlPlaneError as err:
        pytest.fail(f"helm and kustomize are not available: {err}", pytrace=False)


def _documents(argv: list[str], what: str) -> list[dict[str, Any]]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed: {proc.stderr.strip()}", pytrace=False)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def helm_template(
    *args: str, chart: Path = CHART, namespace: str = OPERATOR_NAMESPACE, release: str = OPERATOR_RELEASE
) -> list[dict[str, Any]]:
    """The documents `helm template` renders for the chart, for the control plane's Kubernetes version."""
    argv = [str(bin_dir() / "helm"), "template", release, str(chart), "--namespace", namespace]
    argv += ["--kube-version", pinned_versions()["K8S_VERSION"], *args]
    return _documents(argv, f"helm template {chart.name} {' '.join(args)}")


def kustomize_build(path: Path) -> list[dict[str, Any]]:
    """The documents `kustomize build` renders for a kustomization directory (built once per session: each
    overlay carries the CRDs, and several tests read the same build; each caller gets its own copy)."""
    return copy.deepcopy(_kustomize_build(str(path)))


@functools.cache
def _kustomize_build(path: str) -> list[dict[str, Any]]:
    return _documents([str(bin_dir() / "kustomize"), "build", path], f"kustomize build {path}")


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one document of that kind and name (fails the test when there is none or several)."""
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (
        f"{len(found)} {kind} named {name} in {sorted((d['kind'], d['metadata']['name']) for d in docs)}"
    )
    return found[0]
