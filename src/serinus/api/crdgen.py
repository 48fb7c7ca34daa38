"""Our CRDs, generated from the models so the schema and the Python types cannot drift apart.

`python -m serinus.api.crdgen > deploy/crds/crds.yaml` writes them; `--check FILE` fails when FILE is stale.
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from serinus.api.alert_provider import AlertProviderSpec
from serinus.api.base import ApiModel, Crd
from serinus.api.canary import CanarySpec
from serinus.api.meta import GROUP, VERSION
from serinus.api.metric_template import MetricTemplateSpec
from serinus.api.status import CanaryStatus, ObjectStatus

HEADER = (
    "# Serinus CRDs: flagger.app/v1beta1 Canary, MetricTemplate and AlertProvider;\n"
    "# serinus.io/v1alpha1 CanaryRun and CanaryAction.\n"
    "# Generated from serinus.api by `python -m serinus.api.crdgen > deploy/crds/crds.yaml`; do not edit by hand.\n"
)

_API_VERSION_DOC = "API version of this object: flagger.app/v1beta1."
_KIND_DOC = "Kind of this object."


@dataclass(frozen=True)
class Column:
    """A `kubectl get` column."""

    name: str
    type: str
    json_path: str
    priority: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The additionalPrinterColumns entry."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.priority:
            out["priority"] = self.priority
        return out


@dataclass(frozen=True)
class KindSpec:
    """Everything the CRD of one kind needs besides the models."""

    kind: str
    plural: str
    description: str
    spec: type[ApiModel]
    status: type[ApiModel]
    columns: tuple[Column, ...]


KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        kind="Canary",
        plural="canaries",
        spec=CanarySpec,
        status=CanaryStatus,
        description="Canary automates the release of a workload: traffic shifting, analysis, promotion or rollback.",
        columns=(
            Column("Status", "string", ".status.phase"),
            Column("Weight", "string", ".status.canaryWeight"),
            Column("Suspended", "boolean", ".spec.suspend", 1),
            Column("FailedChecks", "string", ".status.failedChecks", 1),
            Column("Interval", "string", ".spec.analysis.interval", 1),
            Column("Mirror", "boolean", ".spec.analysis.mirror", 1),
            Column("StepWeight", "string", ".spec.analysis.stepWeight", 1),
            Column("StepWeights", "string", ".spec.analysis.stepWeights", 1),
            Column("MaxWeight", "string", ".spec.analysis.maxWeight", 1),
            Column("LastTransitionTime", "string", ".status.lastTransitionTime"),
        ),
    ),
    KindSpec(
        kind="MetricTemplate",
        plural="metrictemplates",
        spec=MetricTemplateSpec,
        status=ObjectStatus,
        description="MetricTemplate is a metric query against a provider that canary analyses reference by name.",
        columns=(Column("Provider", "string", ".spec.provider.type"),),
    ),
    KindSpec(
        kind="AlertProvider",
        plural="alertproviders",
        spec=AlertProviderSpec,
        status=ObjectStatus,
        description="AlertProvider is a notification target (chat, webhook, Alertmanager) for canary alerts.",
        columns=(Column("Type", "string", ".spec.type"),),
    ),
)


def _markers(metadata: Sequence[Any]) -> list[Crd]:
    return [m for m in metadata if isinstance(m, Crd)]


def _unwrap(annotation: Any) -> tuple[Any, list[Crd], bool]:
    """Strip Optional and Annotated: (core type, CRD markers, int-or-string)."""
    markers: list[Crd] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *meta = typing.get_args(annotation)
            markers.extend(_markers(meta))
            annotation = base
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
            cores = {_unwrap(a)[0] for a in args}
            if cores == {int, str}:
                return None, markers, True
            raise TypeError(f"no CRD schema for the union {annotation!r}")
        return annotation, markers, False


def _apply(schema: dict[str, Any], marker: Crd) -> None:
    if marker.type is not None:
        schema["type"] = marker.type
    for key, value in (
        ("format", marker.format),
        ("pattern", marker.pattern),
        ("minimum", marker.minimum),
        ("maximum", marker.maximum),
        ("minLength", marker.min_length),
        ("maxLength", marker.max_length),
        ("maxItems", marker.max_items),
    ):
        if value is not None:
            schema[key] = value


def type_schema(annotation: Any) -> dict[str, Any]:
    """The OpenAPI v3 schema of a Python type used in the models."""
    core, markers, int_or_string = _unwrap(annotation)
    schema: dict[str, Any]
    if int_or_string:
        schema = {"x-kubernetes-int-or-string": True}
    elif isinstance(core, type) and issubclass(core, BaseModel):
        schema = model_schema(core)
    elif isinstance(core, type) and issubclass(core, enum.Enum):
        schema = {"type": "string", "enum": [member.value for member in core]}
    elif core is bool:
        schema = {"type": "boolean"}
    elif core is int:
        schema = {"type": "integer"}
    elif core is float:
        schema = {"type": "number"}
    elif core is str or core is dt.datetime:
        schema = {"type": "string"}
    elif typing.get_origin(core) is list:
        (item,) = typing.get_args(core)
        schema = {"type": "array", "items": type_schema(item)}
    elif typing.get_origin(core) is dict:
        _, value = typing.get_args(core)
        schema = {"type": "object", "additionalProperties": type_schema(value)}
    else:
        raise TypeError(f"no CRD schema for {annotation!r}")
    for marker in markers:
        _apply(schema, marker)
    return schema


def _field_schema(field: FieldInfo) -> dict[str, Any] | None:
    markers = _markers(field.metadata)
    if any(m.exclude for m in markers) or any(m.exclude for m in _unwrap(field.annotation)[1]):
        return None
    schema: dict[str, Any] = {}
    if field.description:
        schema["description"] = field.description
    schema.update(type_schema(field.annotation))
    for marker in markers:
        _apply(schema, marker)
    if any(m.emit_default for m in [*markers, *_unwrap(field.annotation)[1]]):
        default = field.get_default(call_default_factory=True)
        schema["default"] = default.value if isinstance(default, enum.Enum) else default
    return schema


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The schema of a model: its fields under their wire names, required ones listed, then its crd_extra."""
    extra: Mapping[str, Any] = getattr(model, "crd_extra", {})
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        schema = _field_schema(field)
        if schema is None:
            continue
        wire = field.alias or name
        properties[wire] = schema
        if field.is_required():
            required.append(wire)
    # A key every oneOf branch requires is left to oneOf, as Flagger writes it, so both say the same thing.
    branches = [set(b.get("required", [])) for b in extra.get("oneOf", [])]
    if branches:
        required = [key for key in required if not all(key in b for b in branches)]
    required += [key for key in extra.get("required", []) if key not in required]
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out.update({key: value for key, value in extra.items() if key != "required"})
    return out


def kind_schema(spec: KindSpec) -> dict[str, Any]:
    """The openAPIV3Schema of one kind."""
    return {
        "description": spec.description,
        "type": "object",
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": {"type": "object"},
            "spec": {"description": f"Desired state of the {spec.kind}."} | model_schema(spec.spec),
            "status": {"description": f"Observed state of the {spec.kind}."} | model_schema(spec.status),
        },
    }


def crd(spec: KindSpec) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{spec.plural}.{GROUP}",
            # Deleting a CRD deletes every Canary; keep them when the chart is uninstalled, as Flagger does.
            "annotations": {"helm.sh/resource-policy": "keep"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": spec.kind,
                "listKind": f"{spec.kind}List",
                "plural": spec.plural,
                "singular": spec.kind.lower(),
                "categories": ["all"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.to_dict() for column in spec.columns],
                    "schema": {"openAPIV3Schema": kind_schema(spec)},
                }
            ],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The three CRDs, Canary first."""
    return [crd(spec) for spec in KINDS]


def schema_of(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of a kind by name."""
    for spec in KINDS:
        if spec.kind == kind:
            return kind_schema(spec)
    raise KeyError(kind)


def _column(name: str, json_path: str, kind: str = "string", priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": json_path}
    if priority:
        column["priority"] = priority
    return column


def _strings(*names: str) -> dict[str, Any]:
    return {name: {"type": "string"} for name in names}


def serinus_crds() -> list[dict[str, Any]]:
    """Serinus's own CRDs (group serinus.io), beside Flagger's: CanaryRun, the run ledger (engine/ledger.py).

    A CanaryRun is written whole by the operator (one server-side apply per analysis step), so it has no status
    subresource; each tick's records are free-form JSON, kept as written."""
    tick = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "description": "Which Canary and which revision this run released.",
                "properties": {
                    "canaryRef": {"type": "object", "properties": _strings("name")},
                    **_strings("revision", "checksum", "startedAt"),
                },
            },
            "status": {
                "type": "object",
                "description": "Where the run stands, how it ended, and one tick per analysis step.",
                "properties": {
                    **_strings("phase", "result", "reason", "endedAt"),
                    "canaryWeight": {"type": "integer"},
                    "droppedTicks": {"type": "integer"},
                    "ticks": {"type": "array", "items": tick},
                },
            },
        },
    }
    return [
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "canaryruns.serinus.io"},
            "spec": {
                "group": "serinus.io",
                "names": {
                    "kind": "CanaryRun",
                    "listKind": "CanaryRunList",
                    "plural": "canaryruns",
                    "singular": "canaryrun",
                    "shortNames": ["crun"],
                },
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1alpha1",
                        "served": True,
                        "storage": True,
                        "additionalPrinterColumns": [
                            _column("Canary", ".spec.canaryRef.name"),
                            _column("Revision", ".spec.revision"),
                            _column("Phase", ".status.phase"),
                            _column("Weight", ".status.canaryWeight", "integer"),
                            _column("Result", ".status.result"),
                            _column("Started", ".spec.startedAt", "date"),
                            _column("Ended", ".status.endedAt", "date"),
                            _column("Reason", ".status.reason", priority=1),
                        ],
                        "schema": {"openAPIV3Schema": schema},
                    }
                ],
            },
        }
    ]


def action_crd() -> dict[str, Any]:
    """CanaryAction: a request on a release (`serinus promote / abort / pause / resume / retry / approve / reject`,
    engine/actions.py). The spec is immutable once created (who asked what cannot be rewritten); the operator writes
    the outcome through the status subresource; the chart's ValidatingAdmissionPolicy checks `requestedBy`, `groups`
    and the custom RBAC verb at creation."""
    verbs = ["promote", "abort", "pause", "resume", "retry", "approve", "reject"]
    spec = {
        "type": "object",
        "description": "What is asked, of which Canary and revision, by whom and why; immutable.",
        "required": ["canaryRef", "action", "revision", "requestedBy"],
        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "spec is immutable"}],
        "properties": {
            "canaryRef": {
                "type": "object",
                "required": ["name"],
                "properties": _strings("name"),
            },
            "action": {"type": "string", "enum": verbs},
            "revision": {
                "type": "string",
                "description": "The Canary's status.lastAppliedSpec the requester saw; another revision is Rejected.",
            },
            "requestedBy": {"type": "string", "description": "The requester's user name, checked at admission."},
            "groups": {"type": "array", "items": {"type": "string"}},
            "reason": {"type": "string"},
            "expiresAt": {"type": "string", "format": "date-time"},
            "full": {"type": "boolean", "description": "promote only: straight to full weight."},
        },
    }
    status = {
        "type": "object",
        "description": "Set once by the operator: Applied, Rejected or Expired, and why.",
        "properties": {
            "phase": {"type": "string", "enum": ["Applied", "Rejected", "Expired"]},
            **_strings("message", "settledAt"),
        },
    }
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "canaryactions.serinus.io"},
        "spec": {
            "group": "serinus.io",
            "names": {
                "kind": "CanaryAction",
                "listKind": "CanaryActionList",
                "plural": "canaryactions",
                "singular": "canaryaction",
                "shortNames": ["cact"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        _column("Canary", ".spec.canaryRef.name"),
                        _column("Action", ".spec.action"),
                        _column("By", ".spec.requestedBy"),
                        _column("Phase", ".status.phase"),
                        _column("Age", ".metadata.creationTimestamp", "date"),
                        _column("Reason", ".spec.reason", priority=1),
                        _column("Message", ".status.message", priority=1),
                    ],
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def render() -> str:
    """The CRDs as one multi-document YAML file: Flagger's three, then Serinus's own."""
    docs = [*crds(), *serinus_crds(), action_crd()]
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return HEADER + "---\n" + body


def main(argv: Sequence[str]) -> int:
    """Print the CRDs, or with `--check FILE` report whether FILE matches them."""
    text = render()
    if len(argv) == 2 and argv[0] == "--check":
        with open(argv[1], encoding="utf-8") as handle:
            current = handle.read()
        if current != text:
            print(f"{argv[1]} is stale: run python -m serinus.api.crdgen > {argv[1]}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m serinus.api.crdgen [--check FILE]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
