"""`serinus validate`: one line per valid object, one line per problem, exit 1 on anything invalid."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from serinus.cli import main
from tests.conftest import REPO
from tests.gomodules import flagger_example, flagger_examples

EXAMPLES = flagger_examples()

BROKEN = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    port: 9898
    portNmae: http
  analysis:
    interval: 1m
    threshold: 5
    stepWeights: [20, 10]
"""

TEMPLATE = """\
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: latency
  namespace: test
spec:
  provider:
    type: datadog
    secretRef:
      name: datadog
  query: avg:trace.http.request.duration{service:podinfo}
"""

USES_TEMPLATE = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: web
  namespace: test
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  service: {port: 80}
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 10
    metrics:
    - name: latency
      templateRef: {name: latency}
"""


def run(*args: str, stdin: str | None = None) -> tuple[int, list[str]]:
    """Run `serinus ...`; exit code and output lines."""
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output.splitlines()


def write(tmp_path: Path, name: str, text: str) -> str:
    """A manifest file under tmp_path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_every_flagger_example_is_valid() -> None:
    """Every example Canary Flagger ships validates: exit 0, one `valid` line each, nothing else."""
    code, lines = run("validate", *map(str, EXAMPLES))
    assert code == 0
    assert lines == ["canary/podinfo (test): valid"] * len(EXAMPLES)


def test_broken_manifest_names_file_line_object_field_and_reason(tmp_path: Path) -> None:
    """An invalid object exits 1 with file:line: kind/name (ns): path: sentence, warnings marked as such."""
    path = write(tmp_path, "podinfo.yaml", BROKEN)
    code, lines = run("validate", path)
    assert code == 1
    assert lines == [
        f"{path}:13: canary/podinfo (test): warning: spec.service.portNmae: unknown field, the API server drops it; "
        "did you mean portName?",
        f"{path}:17: canary/podinfo (test): spec.analysis.stepWeights: must be ascending, got [20, 10]",
    ]


def test_stdin_and_multi_document_files(tmp_path: Path) -> None:
    """`-` reads stdin; each document of a stream is checked, in order."""
    code, lines = run("validate", "-", stdin=EXAMPLES[0].read_text() + "---\n" + TEMPLATE)
    assert code == 0
    assert lines == ["canary/podinfo (test): valid", "metrictemplate/latency (test): valid"]


def test_mixed_valid_and_invalid_objects_exit_1(tmp_path: Path) -> None:
    """One invalid object among valid ones fails the run, and the valid ones are still reported."""
    path = write(tmp_path, "all.yaml", EXAMPLES[0].read_text() + "---\n" + BROKEN)
    code, lines = run("validate", path)
    assert code == 1
    assert lines[0] == "canary/podinfo (test): valid"
    assert lines[-1].endswith("spec.analysis.stepWeights: must be ascending, got [20, 10]")


def test_not_yaml_is_one_line(tmp_path: Path) -> None:
    """A file that is not YAML gets a single line naming it and the position, exit 1, no traceback."""
    path = write(tmp_path, "bad.yaml", "spec: [1, 2\n")
    code, lines = run("validate", path)
    assert code == 1
    assert lines == [
        f"{path}: not valid YAML: while parsing a flow sequence expected ',' or ']', but got "
        "'<stream end>' (line 2, column 1)"
    ]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "kind: Canary\nspec: {}\n"])
def test_yaml_that_is_not_a_kubernetes_object_is_one_line(tmp_path: Path, text: str) -> None:
    """A list, a scalar or a mapping without apiVersion is named as not a Kubernetes object, exit 1."""
    path = write(tmp_path, "x.yaml", text)
    code, lines = run("validate", path)
    assert code == 1
    assert lines == [f"{path}:1: document 1 is not a Kubernetes object (a mapping with apiVersion and kind)"]


def test_missing_file_is_one_line() -> None:
    """An unreadable file is one line and exit 1."""
    code, lines = run("validate", "/nonexistent/canary.yaml")
    assert code == 1
    assert lines == ["/nonexistent/canary.yaml: cannot read: No such file or directory"]


def test_other_kinds_are_skipped_quietly_and_named_with_verbose(tmp_path: Path) -> None:
    """Deployments beside a Canary do not fail the run; -v says they were skipped."""
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: podinfo, namespace: test}\n"
        "spec:\n  selector:\n    matchLabels: {app: podinfo}\n"
    )
    path = write(tmp_path, "app.yaml", deployment + "---\n" + EXAMPLES[0].read_text())
    assert run("validate", path) == (0, ["canary/podinfo (test): valid"])
    code, lines = run("validate", "-v", path)
    assert (code, lines[0]) == (0, f"{path}:1: apps/v1 Deployment: skipped, not a flagger.app object")


def test_target_workload_given_alongside_is_checked(tmp_path: Path) -> None:
    """A target Deployment given alongside must carry a selector label; --selector-labels says which."""
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: podinfo, namespace: test}\n"
        "spec:\n  selector:\n    matchLabels: {run: podinfo}\n"
    )
    path = write(tmp_path, "app.yaml", deployment + "---\n" + EXAMPLES[0].read_text())
    code, lines = run("validate", path)
    assert code == 1
    assert lines == [
        f"{path}:15: canary/podinfo (test): spec.targetRef: Deployment podinfo selects its pods by "
        '{"run": "podinfo"}; its spec.selector.matchLabels needs one of app, name or '
        "app.kubernetes.io/name (the operator's selector labels)"
    ]
    assert run("validate", "--selector-labels", "app,run", path) == (0, ["canary/podinfo (test): valid"])


def test_verbose_names_the_rule_and_flaggers_text(tmp_path: Path) -> None:
    """-v appends the rule id and Flagger's own error text."""
    path = write(tmp_path, "c.yaml", EXAMPLES[0].read_text().replace("provider: istio", "provider: nginx"))
    code, lines = run("validate", "-v", path)
    assert code == 1
    assert lines == [
        f"{path}:6: canary/podinfo (test): spec.ingressRef: is required with provider nginx: it names "
        "the Ingress to copy for the canary [ingress-ref] (Flagger: ingress selector is empty)"
    ]


def test_list_objects_are_opened(tmp_path: Path) -> None:
    """A kind: List is checked item by item, with lines pointing inside it."""
    text = "apiVersion: v1\nkind: List\nitems:\n- " + BROKEN.replace("\n", "\n  ").rstrip() + "\n"
    path = write(tmp_path, "list.yaml", text)
    code, lines = run("validate", path)
    assert code == 1
    assert lines[-1] == f"{path}:20: canary/podinfo (test): spec.analysis.stepWeights: must be ascending, got [20, 10]"


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    """--strict turns a warning-only object into a failure (and prints no `valid` line for it)."""
    path = write(tmp_path, "w.yaml", EXAMPLES[0].read_text().replace("threshold: 10", "threshold: 0"))
    code, lines = run("validate", path)
    assert code == 0
    assert lines[-1] == "canary/podinfo (test): valid"
    code, lines = run("validate", "--strict", path)
    assert code == 1
    assert "valid" not in lines[-1]


def test_mesh_provider_option_applies_to_canaries_without_provider(tmp_path: Path) -> None:
    """--mesh-provider plays the operator's default: nginx makes an ingressRef required."""
    path = write(tmp_path, "kuma.yaml", flagger_example("kuma-canary").read_text())
    assert run("validate", path)[0] == 0
    code, lines = run("validate", "--mesh-provider", "nginx", path)
    assert code == 1
    assert lines[0].endswith(
        "spec.ingressRef: is required with provider nginx: it names the Ingress to copy for the canary"
    )


def test_no_cross_namespace_refs_option(tmp_path: Path) -> None:
    """--no-cross-namespace-refs rejects a templateRef into another namespace."""
    text = USES_TEMPLATE.replace("templateRef: {name: latency}", "templateRef: {name: latency, namespace: ops}")
    text = text.replace("- name: latency\n", "- name: latency\n      interval: 1m\n")
    path = write(tmp_path, "c.yaml", text)
    assert run("validate", path) == (0, ["canary/web (test): valid"])
    code, lines = run("validate", "--no-cross-namespace-refs", path)
    assert code == 1
    assert lines[0].endswith(
        "spec.analysis.metrics[0].templateRef.namespace: points to another namespace, and the "
        "operator blocks cross-namespace references"
    )


def test_templates_from_other_files_are_used_for_references(tmp_path: Path) -> None:
    """A Canary is checked against MetricTemplates given in any file: datadog needs the metric's interval."""
    canary = write(tmp_path, "canary.yaml", USES_TEMPLATE)
    alone_code, alone = run("validate", canary)
    assert alone_code == 0
    assert "warning: spec.analysis.metrics[0].interval: is not set" in alone[0]
    code, lines = run("validate", canary, write(tmp_path, "template.yaml", TEMPLATE))
    assert code == 1
    assert lines[0] == (
        f"{canary}:14: canary/web (test): spec.analysis.metrics[0].interval: is required: "
        "MetricTemplate latency uses datadog, whose client is built from the interval"
    )
    assert lines[1] == "metrictemplate/latency (test): valid"


def test_empty_input_says_so_without_failing() -> None:
    """An empty stream has no objects: said once, exit 0."""
    assert run("validate", "-", stdin="") == (0, ["<stdin>: no Kubernetes objects found"])


def test_duplicate_keys_are_warned_about(tmp_path: Path) -> None:
    """A key written twice is a warning with its line."""
    path = write(tmp_path, "d.yaml", EXAMPLES[0].read_text() + "  suspend: false\n  suspend: true\n")
    code, lines = run("validate", path)
    assert code == 0
    assert any(line.endswith("spec.suspend: is written twice; the last value is used") for line in lines)


def test_files_are_required() -> None:
    """Without FILE the command is a usage error (exit 2)."""
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument 'FILE...'" in result.output


def test_validate_is_listed_in_the_main_help() -> None:
    """`serinus --help` lists the validate command."""
    code, lines = run("--help")
    assert code == 0
    assert any(line.strip().startswith("validate") for line in lines)


PODINFO = (REPO / "examples" / "podinfo" / "canary.yaml").read_text()


@pytest.mark.parametrize("api_version", ["flager.app/v1beta1", "Flagger.app/v1beta1", "flagger.io/v1beta1", "v1beta1"])
def test_a_misspelt_api_version_is_an_error_not_a_skip(tmp_path: Path, api_version: str) -> None:
    """A Canary under an apiVersion close to ours is checked and fails, instead of being skipped with exit 0."""
    path = write(tmp_path, "c.yaml", PODINFO.replace("flagger.app/v1beta1", api_version))
    code, lines = run("validate", path)
    assert code == 1
    assert lines == [
        f'{path}:3: canary/podinfo (test): apiVersion: "{api_version}" is not served; use flagger.app/v1beta1'
    ]


def test_a_misspelt_kind_names_the_kind_it_is_close_to(tmp_path: Path) -> None:
    """`kind: Canery` is an error that suggests Canary; so is a Canary in the core group."""
    path = write(tmp_path, "c.yaml", PODINFO.replace("kind: Canary", "kind: Canery"))
    code, lines = run("validate", path)
    assert code == 1
    assert lines[-1].endswith(
        'kind: "Canery" is not a flagger.app kind; expected Canary, MetricTemplate or AlertProvider; '
        "did you mean Canary?"
    )
    path = write(tmp_path, "d.yaml", PODINFO.replace("flagger.app/v1beta1", "apps/v1"))
    assert run("validate", path)[0] == 1


def test_another_groups_kind_of_the_same_name_is_left_alone(tmp_path: Path) -> None:
    """A `Canary` of someone else's API group is not ours to judge: skipped, as before."""
    path = write(tmp_path, "c.yaml", PODINFO.replace("flagger.app/v1beta1", "canaries.example.com/v1"))
    assert run("validate", path) == (0, [])


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("min: 99", "min: .nan", "spec.analysis.metrics[0].thresholdRange.min: must be a finite number, got .nan"),
        ("max: 500", "max: .inf", "spec.analysis.metrics[1].thresholdRange.max: must be a finite number, got .inf"),
        ("threshold: 5", "threshold: -.inf", "spec.analysis.threshold: must be a finite number, got -.inf"),
        (
            "threshold: 5",
            "threshold: 1e38",
            "spec.analysis.threshold: must be a whole number from -9223372036854775808 to 9223372036854775807, "
            "the range of Flagger's Go field, got 1e+38",
        ),
        (
            "threshold: 5",
            "threshold: 99999999999999999999",
            "spec.analysis.threshold: must be a whole number from -9223372036854775808 to 9223372036854775807, "
            "the range of Flagger's Go field, got 99999999999999999999",
        ),
        (
            "timeout: 30s",
            "timeout: 30s\n        retries: 18446744073709551626",
            "spec.analysis.webhooks[0].retries: must be a whole number from -9223372036854775808 to "
            "9223372036854775807, the range of Flagger's Go field, got 18446744073709551626",
        ),
        (
            "stepWeight: 10",
            "stepWeights: [10, 4294967306]",
            "spec.analysis.stepWeights: every weight must be between 1 and 100, got [10, 4294967306]",
        ),
        (
            "progressDeadlineSeconds: 60",
            "progressDeadlineSeconds: 2147483648",
            "spec.progressDeadlineSeconds: must be a whole number from -2147483648 to 2147483647, the range of "
            "Flagger's Go field, got 2147483648",
        ),
    ],
)
def test_numbers_flaggers_go_types_cannot_hold_are_errors(tmp_path: Path, old: str, new: str, line: str) -> None:
    """NaN and infinities (which JSON cannot carry) and whole numbers past the Go field's range fail, naming the
    field, instead of passing."""
    path = write(tmp_path, "c.yaml", PODINFO.replace(old, new))
    code, lines = run("validate", path)
    assert code == 1
    assert [text.split(": ", 2)[-1] for text in lines if "warning: " not in text] == [line]


def test_unreadable_text_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """A control character, bytes that are not UTF-8 (from a file or stdin) and an alias bomb: one line each,
    exit 1."""
    control = write(tmp_path, "control.yaml", PODINFO.replace("name: podinfo\n", "name: pod\x01info\n", 1))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(PODINFO.encode() + b"\xff\xfe\n")
    bomb = write(
        tmp_path,
        "bomb.yaml",
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi", strict=True)),
    )
    assert run("validate", control) == (
        1,
        [f"{control}: not valid YAML: control character #x0001 is not allowed (line 6, column 12)"],
    )
    assert run("validate", str(binary)) == (1, [f"{binary}: cannot read: not UTF-8 text (byte 0xff on line 44)"])
    result = CliRunner().invoke(main, ["validate", "-"], input=binary.read_bytes())
    assert (result.exit_code, result.output) == (1, "<stdin>: cannot read: not UTF-8 text (byte 0xff on line 44)\n")
    assert run("validate", bomb) == (
        1,
        [
            f"{bomb}: not valid YAML: its aliases expand to more than 10,000 values, which is not accepted "
            "(line 1, column 1)"
        ],
    )


def test_analysis_int_fields_hold_what_flaggers_64_bit_build_holds(tmp_path: Path) -> None:
    """Flagger declares threshold as Go `int`, which its amd64 and arm64 builds hold past 32 bits: a Canary it runs
    with `threshold: 3000000000` is valid here too, while the int32 progressDeadlineSeconds refuses the same number."""
    assert run("validate", write(tmp_path, "c.yaml", PODINFO.replace("threshold: 5", "threshold: 3000000000")))[0] == 0
    deadline = PODINFO.replace("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 3000000000")
    code, lines = run("validate", write(tmp_path, "p.yaml", deadline))
    assert code == 1
    assert any(
        "spec.progressDeadlineSeconds: must be a whole number from -2147483648 to 2147483647" in x for x in lines
    )
