"""The schema check behaves like the API server: it prunes unknown fields and rejects what the CRD forbids."""

from __future__ import annotations

from typing import Any

import pytest

from serinus.api.crdgen import schema_of
from serinus.api.structural import prune, validate


def _errors(schema: dict[str, Any], value: Any) -> list[str]:
    return [str(p) for p in validate(schema, value)]


CANARY = schema_of("Canary")
SPEC = CANARY["properties"]["spec"]
ANALYSIS = SPEC["properties"]["analysis"]
SERVICE = SPEC["properties"]["service"]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "string"}, 80, "<object>: must be a string, got integer 80; quote it"),
        ({"type": "boolean"}, "true", '<object>: must be true or false, got string "true"'),
        ({"type": "integer"}, 1.5, "<object>: must be an integer, got number 1.5"),
        ({"type": "number"}, True, "<object>: must be a number, got boolean true"),
        ({"type": "array"}, {"a": 1}, '<object>: must be a list, got mapping {"a": 1}'),
        ({"type": "object"}, [1], "<object>: must be a mapping of keys to values, got list [1]"),
        ({"x-kubernetes-int-or-string": True}, 1.5, "<object>: must be a whole number or a name, got 1.5"),
        (
            {"type": "string", "enum": ["istio", "linkerd"]},
            "istoi",
            '<object>: must be one of istio or linkerd, got "istoi"; did you mean istio?',
        ),
        (
            {"type": "string", "pattern": "^[0-9]+(m|s)"},
            "1h",
            "<object>: must be a duration starting with a number of minutes or seconds, "
            'like 30s, 1m or 1m30s, got "1h"',
        ),
        ({"type": "string", "pattern": "^[a-z]+$"}, "A", '<object>: must be text matching ^[a-z]+$, got "A"'),
        ({"type": "integer", "minimum": 1}, 0, "<object>: must be at least 1, got 0"),
        ({"type": "integer", "maximum": 65535}, 70000, "<object>: must be at most 65535, got 70000"),
        ({"type": "string", "maxLength": 3}, "abcd", "<object>: must be at most 3 characters long, got 4"),
        ({"type": "string", "minLength": 1}, "", '<object>: must be at least 1 characters long, got ""'),
        ({"type": "array", "maxItems": 1}, [1, 2], "<object>: must have at most 1 entries, got 2"),
        (
            {"type": "string", "format": "date-time"},
            "yesterday",
            '<object>: must be an RFC 3339 time like 2024-05-01T10:00:00Z, got "yesterday"',
        ),
    ],
)
def test_value_checks(schema: dict[str, Any], value: Any, expected: str) -> None:
    """Each OpenAPI keyword the CRDs use rejects a bad value with a plain sentence."""
    assert _errors(schema, value) == [expected]


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "integer"}, 5.0),
        ({"type": "number"}, 5),
        ({"x-kubernetes-int-or-string": True}, "http"),
        ({"x-kubernetes-int-or-string": True}, 8080),
        ({"x-kubernetes-int-or-string": True}, 8080.0),
        ({"type": "string", "pattern": "^[0-9]+(m|s)"}, "1m30s"),
        ({"type": "string", "format": "date-time"}, "2024-05-01T10:00:00Z"),
    ],
)
def test_values_the_api_server_accepts(schema: dict[str, Any], value: Any) -> None:
    """JSON's 5.0 is an integer, int-or-string takes both, the interval pattern is anchored only at the start."""
    assert _errors(schema, value) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"threshold": 1, "stepWeight": 5}, ["spec.analysis.interval: is required"]),
        ({"interval": "1m", "threshold": 1}, ["spec.analysis: must set one of iterations, stepWeight or stepWeights"]),
        (
            {"interval": "1m", "threshold": 1, "iterations": 5, "stepWeights": [1]},
            [
                "spec.analysis: must set only one of iterations, stepWeight or stepWeights, "
                "got iterations and stepWeights"
            ],
        ),
        ({"interval": "1m", "threshold": 1, "stepWeights": [1]}, []),
    ],
)
def test_analysis_one_of_messages(value: dict[str, Any], expected: list[str]) -> None:
    """Flagger's oneOf on spec.analysis reads as which field is missing or which ones clash."""
    assert [str(p) for p in validate(ANALYSIS, value, ("spec", "analysis"))] == expected


def test_string_match_allows_at_most_one_operator() -> None:
    """An Istio StringMatch with exact and prefix is rejected; with none or one it is accepted."""
    uri = SERVICE["properties"]["match"]["items"]["properties"]["uri"]
    assert _errors(uri, {}) == []
    assert _errors(uri, {"prefix": "/"}) == []
    assert _errors(uri, {"exact": "/a", "prefix": "/"}) == [
        "<object>: must set at most one of exact, prefix or regex, got exact and prefix"
    ]


def test_ab_header_match_needs_exactly_one_operator() -> None:
    """An A/B header condition must pick one of exact, prefix, suffix or regex."""
    header = ANALYSIS["properties"]["match"]["items"]["properties"]["headers"]["additionalProperties"]
    assert _errors(header, {}) == ["<object>: must set one of exact, prefix, suffix or regex"]
    assert _errors(header, {"exact": "a", "regex": "b"}) == [
        "<object>: must set only one of exact, prefix, suffix or regex, got exact and regex"
    ]


def test_load_balancer_one_of_reports_the_nested_hash_key_problem() -> None:
    """With consistentHash chosen, the error is about its hash keys, not the outer oneOf."""
    lb = SERVICE["properties"]["trafficPolicy"]["properties"]["loadBalancer"]
    assert _errors(lb, {"simple": "ROUND_ROBIN"}) == []
    assert _errors(lb, {"consistentHash": {"httpHeaderName": "x"}}) == []
    assert _errors(lb, {"consistentHash": {"httpHeaderName": "x", "useSourceIp": True}}) == [
        "consistentHash: must set only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName, "
        "got httpHeaderName and useSourceIp"
    ]
    assert _errors(lb, {"simple": "RANDOM", "consistentHash": {"useSourceIp": True}}) == [
        "<object>: must set only one of simple or consistentHash, got simple and consistentHash"
    ]


def test_service_backend_needs_a_port_like_the_cel_rule_says() -> None:
    """The Gateway API CEL rule is enforced: a Service backend without port is rejected, another kind is not."""
    backend = SERVICE["properties"]["mirror"]["items"]["properties"]["backendRef"]
    assert _errors(backend, {"name": "shadow"}) == ["<object>: must have port for Service reference"]
    assert _errors(backend, {"name": "shadow", "port": 80}) == []
    assert _errors(backend, {"name": "b", "group": "example.com", "kind": "Bucket"}) == []


def test_required_and_nested_paths() -> None:
    """Missing required fields are reported at their own path, nested errors at theirs."""
    assert [str(p) for p in validate(SPEC, {"service": {"port": "80"}}, ("spec",))] == [
        "spec.targetRef: is required",
        "spec.analysis: is required",
        'spec.service.port: must be a number, got string "80"',
    ]


def test_prune_drops_unknown_fields_and_nulls_with_warnings() -> None:
    """Unknown fields and nulls are removed (as the API server does) and each becomes a warning with a hint."""
    value = {
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a", "namespace": "x"},
            "suspend": None,
            "analysis": {"stepWieght": 5},
        },
        "metadata": {"anything": "kept"},
    }
    pruned, problems = prune(CANARY, value)
    assert pruned == {
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a"}, "analysis": {}},
        "metadata": {"anything": "kept"},
    }
    assert [str(p) for p in problems] == [
        "warning: spec.targetRef.namespace: unknown field, the API server drops it",
        "warning: spec.suspend: is empty (null), the API server drops it",
        "warning: spec.analysis.stepWieght: unknown field, the API server drops it; did you mean stepWeight?",
    ]


def test_prune_keeps_map_values_and_list_items() -> None:
    """additionalProperties maps and list items are walked, not dropped."""
    value = {
        "spec": {
            "service": {"port": 80, "apex": {"annotations": {"a/b": "c"}}},
            "analysis": {"metrics": [{"name": "m", "bogus": 1}]},
        }
    }
    pruned, problems = prune(CANARY, value)
    assert pruned["spec"]["service"]["apex"]["annotations"] == {"a/b": "c"}
    assert pruned["spec"]["analysis"]["metrics"] == [{"name": "m"}]
    assert [p.where for p in problems] == ["spec.analysis.metrics[0].bogus"]
