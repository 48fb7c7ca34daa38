"""The load tester's chart: its policy values (allow-list, --disable-bash, the command cap, the namespace pattern)
render as flags serinus-loadtester reads back unchanged, and the pod gets no ServiceAccount token unless asked.
Rendered by the real helm and accepted by a server-side dry run on the real API server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from serinus.loadtester.cli import main as loadtester_command
from tests.cluster.controlplane import ROOT, Cluster, ControlPlaneError
from tests.cluster.install.test_manifests import _by_kind, _dry_run, _flagger_charts

pytestmark = pytest.mark.cluster

LOADTESTER = ROOT / "deploy" / "charts" / "serinus-loadtester"
HEY = r"hey -z [0-9]+[sm] -q [0-9]+ -c [0-9]+ http://[a-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9/._-]*"
# Quotes, a YAML comment sign, a colon and backslashes: what a hand-written pattern may hold.
AWKWARD = r'kubectl get "pods" -n [a-z]+ # x: \d\\'


def _render(cluster: Cluster, *args: str) -> dict[str, Any]:
    docs = cluster.helm_template(*args, chart=LOADTESTER, release="loadtester")
    (deployment,) = _by_kind(docs, "Deployment")
    return deployment


def _parsed(args: list[str]) -> dict[str, Any]:
    """What serinus-loadtester reads from these arguments (its own option parser; raises on an unknown flag)."""
    ctx = loadtester_command.make_context("serinus-loadtester", list(args), resilient_parsing=False)
    return dict(ctx.params)


def test_defaults_mount_no_token_and_cap_commands(cluster: Cluster, namespace: str) -> None:
    """By default: no ServiceAccount token in the pod, 20 concurrent commands at most, no allow-list, bash allowed;
    the same with Flagger's loadtester values file; both accepted by the API server."""
    for extra in ([], ["-f", str(_flagger_charts() / "loadtester" / "values.yaml")]):
        deployment = _render(cluster, *extra)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        params = _parsed(container["args"])
        assert params["max_concurrent_commands"] == 20
        assert params["allow_command"] == ()
        assert params["disable_bash"] is False
        assert params["namespace_regexp"] is None
        _dry_run(cluster, [deployment])


def test_policy_values_become_the_flags(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """allowCommands (one flag each, quotes and backslashes intact), disableBash, maxConcurrentCommands,
    namespaceRegexp and automountServiceAccountToken render as the flags and field the load tester reads back."""
    values = tmp_path / "values.yaml"
    values.write_text(
        json.dumps(
            {
                "cmd": {
                    "namespaceRegexp": "^(test|staging)$",
                    "allowCommands": [HEY, AWKWARD],
                    "disableBash": True,
                    "maxConcurrentCommands": 5,
                },
                "serviceAccountName": "loadtester-helm",
                "automountServiceAccountToken": True,
            }
        )
    )
    deployment = _render(cluster, "-f", str(values))
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == "loadtester-helm"
    (container,) = pod["containers"]
    params = _parsed(container["args"])
    assert params["allow_command"] == (HEY, AWKWARD)
    assert params["disable_bash"] is True
    assert params["max_concurrent_commands"] == 5
    assert params["namespace_regexp"] == "^(test|staging)$"
    _dry_run(cluster, [deployment])


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_cap_below_one_is_refused_by_helm(cluster: Cluster, value: str) -> None:
    """`cmd.maxConcurrentCommands` below 1 fails the render with a message naming the value, rather than giving a
    pod that would exit at start."""
    with pytest.raises(ControlPlaneError, match=r"cmd\.maxConcurrentCommands must be a whole number of at least 1"):
        _render(cluster, "--set", f"cmd.maxConcurrentCommands={value}")


def test_chart_lints_with_every_policy_value(cluster: Cluster) -> None:
    """`helm lint` passes with the policy values set."""
    proc = subprocess.run(
        [
            str(cluster.plane.bin_dir / "helm"),
            "lint",
            str(LOADTESTER),
            "--set",
            "cmd.disableBash=true",
            "--set",
            "automountServiceAccountToken=true",
            "--set-json",
            f"cmd.allowCommands={json.dumps([HEY])}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout
