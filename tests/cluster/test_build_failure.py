"""A broken binary build fails the cluster tests loudly, naming the step that broke."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlaneError, build_binaries


def test_unbuildable_version_names_the_broken_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinning a kwok release that does not exist makes build_binaries raise with 'BUILD STEP FAILED: kwok'."""
    versions = tmp_path / "versions.env"
    versions.write_text(
        "K8S_VERSION=1.34.4\nETCD_VERSION=3.6.5\nKWOK_VERSION=0.0.0-does-not-exist\nFLAGGER_VERSION=1.44.0\n"
    )
    monkeypatch.setenv("SERINUS_VERSIONS_FILE", str(versions))
    monkeypatch.setenv("SERINUS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ControlPlaneError) as caught:
        build_binaries(tmp_path / "build.log")
    message = str(caught.value)
    assert message.startswith("BUILD STEP FAILED: kwok (go install sigs.k8s.io/kwok/cmd/kwok@v0.0.0-does-not-exist)")
    assert str(tmp_path / "build.log") in message
