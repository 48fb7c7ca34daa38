"""`serinus query`: a Canary or --templates file it cannot use is one line naming the file (and the field), exit 1,
before any query is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from serinus.cli import main
from tests.conftest import REPO
from tests.unit.cli.conftest import NetworkGuard

PODINFO = (REPO / "examples" / "podinfo" / "canary.yaml").read_text()
TEMPLATE = """\
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: errors, namespace: test}
spec:
  provider: {type: prometheus, address: "http://127.0.0.1:1"}
  query: sum(rate(errors[1m]))
"""


def _query(tmp_path: Path, canary: bytes, templates: bytes | None = None) -> tuple[int, str, Path, Path]:
    canary_path, templates_path = tmp_path / "canary.yaml", tmp_path / "templates.yaml"
    canary_path.write_bytes(canary)
    args = ["query", str(canary_path), "--metrics-server", "http://127.0.0.1:1"]
    if templates is not None:
        templates_path.write_bytes(templates)
        args += ["--templates", str(templates_path)]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output, canary_path, templates_path


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        (PODINFO.replace("threshold: 5", "threshold: [5]"), "canary podinfo: spec.analysis.threshold: "),
        (PODINFO.replace("  namespace: test\n", "  - test\n", 1), "not valid YAML: "),
        (PODINFO.replace("kind: Canary", "kind: Deployment"), "no Canary in this file"),
        (
            PODINFO.replace("  namespace: test\n", "  namespace: test\n  annotations: {serinus.io/judge: '[1'}\n", 1),
            "canary podinfo: annotation serinus.io/judge is not YAML: not valid YAML: ",
        ),
        (PODINFO.replace("name: podinfo\n", "name: pod\x07info\n", 1), "not valid YAML: control character #x0007"),
    ],
)
def test_a_canary_it_cannot_use_is_one_line(
    tmp_path: Path, network_guard: NetworkGuard, canary: str, message: str
) -> None:
    """A field of the wrong type, broken YAML, no Canary or a broken judge annotation: exit 1, one line naming the
    file (and the field), and no connection attempted."""
    code, output, canary_path, _ = _query(tmp_path, canary.encode())
    assert code == 1
    assert output.count("\n") == 1
    assert output.startswith(f"Error: {canary_path}: {message}")
    assert network_guard.attempts == []


def test_templates_it_cannot_use_are_one_line_naming_the_templates_file(
    tmp_path: Path, network_guard: NetworkGuard
) -> None:
    """--templates with bytes that are not UTF-8, or a MetricTemplate of an unknown provider type: one line naming
    that file and the field."""
    code, output, _, templates = _query(tmp_path, PODINFO.encode(), TEMPLATE.encode() + b"\xff\n")
    assert (code, output) == (1, f"Error: {templates}: cannot read: not UTF-8 text (byte 0xff on line 7)\n")
    code, output, _, templates = _query(tmp_path, PODINFO.encode(), TEMPLATE.replace("prometheus", "prom").encode())
    assert code == 1
    assert output.startswith(f"Error: {templates}: metrictemplate errors: spec.provider.type: ")
    assert network_guard.attempts == []
