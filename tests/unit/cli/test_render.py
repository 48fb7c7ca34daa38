"""`serinus render`: the objects the operator's own code writes to initialize a Canary, printed without a cluster."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from serinus.cli import main
from serinus.routers.istio_spec import desired

REPO = Path(__file__).resolve().parents[3]
CANARY = REPO / "examples" / "podinfo" / "canary.yaml"
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "podinfo"}},
        "template": {
            "metadata": {"labels": {"app": "podinfo"}},
            "spec": {
                "containers": [
                    {
                        "name": "podinfod",
                        "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                        "ports": [{"name": "http", "containerPort": 9898}],
                    }
                ]
            },
        },
    },
}


def _render(
    tmp_path: Path, canary: Path | dict[str, Any], *docs: dict[str, Any], extra: tuple[str, ...] = ()
) -> tuple[int, str, list[dict[str, Any]]]:
    if isinstance(canary, dict):
        path = tmp_path / "canary.yaml"
        path.write_text(yaml.safe_dump(canary))
        canary = path
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump_all(list(docs)))
    result = CliRunner().invoke(main, ["render", str(canary), "--target", str(target), *extra])
    objects = [d for d in yaml.safe_load_all(result.output) if d] if result.exit_code == 0 else []
    return result.exit_code, result.output, objects


def test_istio_canary_renders_every_initialization_object(tmp_path: Path) -> None:
    """The podinfo example: the target scaled to zero, three Services, the primary Deployment, both
    DestinationRules and the VirtualService, each owned by the Canary, in the order the operator writes them."""
    code, output, objects = _render(tmp_path, CANARY, DEPLOYMENT)
    assert code == 0, output
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Deployment", "podinfo"),
        ("Service", "podinfo-canary"),
        ("Service", "podinfo-primary"),
        ("Deployment", "podinfo-primary"),
        ("Service", "podinfo"),
        ("DestinationRule", "podinfo-canary"),
        ("DestinationRule", "podinfo-primary"),
        ("VirtualService", "podinfo"),
    ]
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert by_name[("Deployment", "podinfo")]["spec"]["replicas"] == 0
    primary = by_name[("Deployment", "podinfo-primary")]
    assert primary["spec"]["replicas"] == 2
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.0"
    assert by_name[("Service", "podinfo")]["spec"]["selector"] == {"app": "podinfo-primary"}
    assert all(o["metadata"]["ownerReferences"][0]["kind"] == "Canary" for o in objects[1:])
    assert all("status" not in o and "uid" not in o["metadata"] for o in objects)
    # the same builder the operator's Istio router uses
    canary = yaml.safe_load(CANARY.read_text())
    vs = desired(canary)[-1]
    assert by_name[("VirtualService", "podinfo")]["spec"] == vs["spec"]


def test_provider_flag_hpa_and_nginx_ingress(tmp_path: Path) -> None:
    """--provider applies when the Canary has none; an HPA gets its -primary copy; nginx writes the canary
    Ingress from the user's Ingress in the target file."""
    canary = yaml.safe_load(CANARY.read_text())
    del canary["spec"]["provider"]
    canary["spec"]["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"}
    canary["spec"]["autoscalerRef"] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "name": "podinfo",
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "podinfo", "port": {"number": 9898}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    code, output, objects = _render(tmp_path, canary, DEPLOYMENT, hpa, ingress, extra=("--provider", "nginx"))
    assert code == 0, output
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert ("HorizontalPodAutoscaler", "podinfo-primary") in names
    assert ("VirtualService", "podinfo") not in names
    primary_hpa = next(
        o for o in objects if o["metadata"]["name"] == "podinfo-primary" and o["kind"] == "HorizontalPodAutoscaler"
    )
    assert primary_hpa["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    canary_ingress = next(o for o in objects if (o["kind"], o["metadata"]["name"]) == ("Ingress", "podinfo-canary"))
    assert canary_ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"] == "true"
    assert canary_ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    backend = canary_ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    assert backend == "podinfo-canary"


def test_a_missing_target_says_why_it_cannot_initialize(tmp_path: Path) -> None:
    """A target file without the Canary's workload: exit 1 naming the missing Deployment, nothing printed."""
    other = {**DEPLOYMENT, "metadata": {"name": "other", "namespace": "test"}}
    code, output, _ = _render(tmp_path, CANARY, other)
    assert code == 1
    assert (
        'podinfo.test did not initialize: deployment podinfo.test get query error: deployments.apps "podinfo"' in output
    )
    assert "kind:" not in output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: [podinfo]\n", "metadata: must be a mapping"),
        (
            CANARY.read_text().replace("flagger.app/v1beta1", "flager.app/v1beta1"),
            'canary podinfo: apiVersion: "flager.app/v1beta1" is not served; use flagger.app/v1beta1',
        ),
        (CANARY.read_text().replace("port: 9898", "port: [9898"), "not valid YAML: while parsing a flow sequence"),
        (CANARY.read_text().replace("threshold: 5", "threshold: .nan"), "spec.analysis.threshold: must be a finite"),
    ],
)
def test_a_bad_canary_is_one_line_naming_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    """A Canary that is not YAML, has metadata as a list, a misspelt apiVersion or a NaN: exit 1 with one line
    naming the file and the field, no traceback."""
    path = tmp_path / "canary.yaml"
    path.write_text(text)
    code, output, _ = _render(tmp_path, path, DEPLOYMENT)
    assert code == 1
    assert output.count("\n") == 1
    assert output.startswith(f"Error: {path}: ")
    assert message in output


def test_a_target_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """Target bytes that are not UTF-8: exit 1, one line naming the target file."""
    target = tmp_path / "target.yaml"
    target.write_bytes(yaml.safe_dump(DEPLOYMENT).encode() + b"\xc3\x28\n")
    result = CliRunner().invoke(main, ["render", str(CANARY), "--target", str(target)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {target}: cannot read: not UTF-8 text (byte 0xc3 on line 22)\n",
    )


def test_a_broken_target_object_names_both_files_and_the_field(tmp_path: Path) -> None:
    """A Deployment whose template is a list: exit 1, the Canary did not initialize, naming the field and both
    files."""
    broken: Any = copy.deepcopy(DEPLOYMENT)
    broken["spec"]["template"] = []
    code, output, _ = _render(tmp_path, CANARY, broken)
    assert code == 1
    assert output.startswith(f"Error: {CANARY}: podinfo.test did not initialize: ")
    assert "spec.template" in output
    assert output.rstrip().endswith(f"(with the objects of {tmp_path / 'target.yaml'})")
