"""check_object runs schema, decoding and rules in order, and reports each problem once."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from serinus.api import Canary
from serinus.api.check import check_object, is_flagger_object, is_kubernetes_object, templates_in
from tests.gomodules import flagger_example


@pytest.fixture
def example() -> dict[str, Any]:
    """Flagger's istio canary example."""
    doc: dict[str, Any] = yaml.safe_load(flagger_example("istio-canary").read_text())
    return doc


def test_valid_example_gives_the_parsed_object(example: dict[str, Any]) -> None:
    """A valid manifest reports its kind, name, namespace and the parsed Canary."""
    report = check_object(example)
    assert (report.kind, report.name, report.namespace, report.valid) == ("Canary", "podinfo", "test", True)
    assert isinstance(report.obj, Canary)
    assert report.obj.spec.service is not None
    assert report.obj.spec.service.port == 80


def test_old_api_version_is_an_error(example: dict[str, Any]) -> None:
    """flagger.app/v1alpha3 is not served any more."""
    example["apiVersion"] = "flagger.app/v1alpha3"
    assert [str(p) for p in check_object(example).errors] == [
        'apiVersion: "flagger.app/v1alpha3" is not served; use flagger.app/v1beta1'
    ]


def test_unknown_kind_is_an_error(example: dict[str, Any]) -> None:
    """A flagger.app object of another kind is named as such."""
    example["kind"] = "Rollout"
    assert [str(p) for p in check_object(example).errors] == [
        'kind: "Rollout" is not a flagger.app kind; expected Canary, MetricTemplate or AlertProvider'
    ]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, "metadata.name: is required"),
        (
            {"name": "Pod_Info"},
            "metadata.name: must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most "
            '253 characters), got "Pod_Info"',
        ),
        (
            {"name": "a", "namespace": "Test"},
            "metadata.namespace: must be a DNS label (lowercase letters, digits and "
            "'-', at most 63 characters), got \"Test\"",
        ),
        ({"name": "a", "labels": {"team": 7}}, "metadata.labels.team: must be a string, got 7; quote it"),
        ({"name": "a", "annotations": ["x"]}, 'metadata.annotations: must be a mapping of strings, got ["x"]'),
    ],
)
def test_metadata_is_checked_like_the_api_server(
    example: dict[str, Any], metadata: dict[str, Any], expected: str
) -> None:
    """Names, namespaces, labels and annotations follow Kubernetes' rules."""
    example["metadata"] = metadata
    assert expected in [str(p) for p in check_object(example).errors]


def test_unknown_metadata_field_is_a_warning_but_known_ones_are_not(example: dict[str, Any]) -> None:
    """metadata.lables is a typo; metadata.uid and managedFields are fine."""
    example["metadata"] |= {"lables": {"a": "b"}, "uid": "1", "managedFields": []}
    report = check_object(example)
    assert report.valid
    assert [str(p) for p in report.warnings] == ["warning: metadata.lables: unknown field, the API server drops it"]


def test_fractional_integer_is_a_decoding_error(example: dict[str, Any]) -> None:
    """port: 80.5 passes the CRD (type number) but Flagger cannot decode it into an int32: an error."""
    example["spec"]["service"]["port"] = 80.5
    assert [str(p) for p in check_object(example).errors] == ["spec.service.port: must be a whole number, got 80.5"]


def test_a_schema_error_is_not_repeated_by_decoding_or_rules(example: dict[str, Any]) -> None:
    """A wrong type is reported once, by the schema check, not again by the decoder or a rule."""
    example["spec"]["analysis"]["stepWeight"] = "5"
    assert [str(p) for p in check_object(example).errors] == [
        'spec.analysis.stepWeight: must be a number, got string "5"'
    ]


def test_unknown_fields_do_not_reach_the_model(example: dict[str, Any]) -> None:
    """The parsed object is what the API server would store: unknown fields pruned."""
    example["spec"]["bogus"] = 1
    report = check_object(example)
    assert isinstance(report.obj, Canary)
    assert report.obj.spec.model_extra == {}


def test_helpers_classify_documents() -> None:
    """Kubernetes objects need apiVersion and kind; flagger.app ones are recognised at any version."""
    assert not is_kubernetes_object(["a"])
    assert not is_kubernetes_object({"kind": "Canary"})
    assert is_kubernetes_object({"apiVersion": "v1", "kind": "Service"})
    assert is_flagger_object({"apiVersion": "flagger.app/v1alpha3", "kind": "Canary"})
    assert not is_flagger_object({"apiVersion": "apps/v1", "kind": "Deployment"})


def test_templates_in_indexes_parsable_templates_by_namespace_and_name() -> None:
    """Only MetricTemplates that parse are indexed, by (namespace, name)."""
    good: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "t", "namespace": "n"},
        "spec": {"provider": {"type": "prometheus", "address": "http://p"}, "query": "up"},
    }
    bad = copy.deepcopy(good)
    bad["metadata"]["name"] = "u"
    bad["spec"]["provider"]["type"] = "nope"
    assert list(templates_in([good, bad, {"kind": "Canary"}])) == [("n", "t")]


@pytest.mark.parametrize(("value", "shown"), [(1e38, "1e+38"), (2**64, "18446744073709551616"), (-1, "-1")])
def test_a_uint64_field_names_its_own_range_however_far_out_the_number_is(
    example: dict[str, Any], value: float, shown: str
) -> None:
    """Istio's uint64 minimumRingSize: a number past its range is refused with 0..2**64-1, whether it is too large
    to decode (1e38, which used to be reported with the int32 range) or decoded and then checked."""
    example["spec"]["service"]["trafficPolicy"] = {
        "loadBalancer": {"consistentHash": {"useSourceIp": True, "minimumRingSize": value}}
    }
    assert [str(p) for p in check_object(example).errors] == [
        "spec.service.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: must be a whole number from 0 to "
        f"18446744073709551615, the range of Flagger's Go field, got {shown}"
    ]
