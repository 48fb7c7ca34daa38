"""`serinus validate` on the statistical judge's settings: annotation problems name the key and the field."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from serinus.cli import main

CANARY = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
  annotations:
    serinus.io/judge: |
      mode: statistical
      falseRollbackRate: "0.05"
    serinus.io/judge-request-duration: '{kind: histogram, bounds: [auto]}'
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      interval: 1m
      thresholdRange: {min: 99}
    - name: request-duration
      interval: 1m
      thresholdRange: {max: 500}
"""


def run(*args: str) -> tuple[int, list[str]]:
    """Run `serinus ...`; exit code and output lines."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output.splitlines()


def test_annotation_error_names_the_key_and_the_field(tmp_path: Path) -> None:
    """A schema error inside the serinus.io/judge annotation fails the Canary, on the annotation's line, with the
    annotation key and the field inside it in the path."""
    path = tmp_path / "podinfo.yaml"
    path.write_text(CANARY, encoding="utf-8")
    code, lines = run("validate", str(path))
    assert code == 1
    assert lines == [
        f'{path}:7: canary/podinfo (test): metadata.annotations["serinus.io/judge"].falseRollbackRate: '
        'must be a number, got string "0.05"'
    ]


def test_annotation_yaml_error_and_a_sound_annotation(tmp_path: Path) -> None:
    """Broken YAML in an annotation is one error naming the key; once fixed, the Canary is valid."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(CANARY.replace('falseRollbackRate: "0.05"', "falseRollbackRate: [0.05"), encoding="utf-8")
    code, lines = run("validate", "-v", str(broken))
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(
        f'{broken}:7: canary/podinfo (test): metadata.annotations["serinus.io/judge"]: is not valid YAML: '
    )
    assert lines[0].endswith("[judge-annotation]")
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(CANARY.replace('"0.05"', "0.05"), encoding="utf-8")
    assert run("validate", "--strict", str(fixed)) == (0, ["canary/podinfo (test): valid"])
