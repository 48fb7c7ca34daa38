"""MetricTemplate queries render exactly as Go's text/template renders them, and values cannot inject selectors."""

from __future__ import annotations

import pytest

from serinus.engine.templating import TemplateContext, TemplateError, render

CTX = TemplateContext(
    name="podinfo",
    namespace="test",
    target="podinfo",
    service="podinfo-svc",
    ingress="podinfo-ing",
    route="podinfo-route",
    interval="1m",
    variables={"reporter": "destination", "q": "x"},
)

# (template, output) pairs produced by Go 1.26's text/template with Flagger's functions and missingkey=error.
GO_VECTORS = [
    (
        'sum(rate(istio_requests_total{reporter="{{ variables.reporter }}",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}",response_code!~"5.*"}[{{ interval }}]))',
        'sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="test",destination_workload=~"podinfo",response_code!~"5.*"}[1m]))',
    ),
    (
        '{{- $route := printf "kube(ew)?_%s__%s_canary__.*__%s_canary(_[0-9]+)?" namespace ingress service }}\n\tsum(rate(x{route=~"{{ $route }}"}[{{ interval }}]))',
        '\n\tsum(rate(x{route=~"kube(ew)?_test__podinfo-ing_canary__.*__podinfo-svc_canary(_[0-9]+)?"}[1m]))',
    ),
    ("a  {{- name -}}  b\n  {{ namespace }} -{{- target }}", "apodinfob\n  test -podinfo"),
    (
        '{{ name | printf "%s-primary" }} {{ printf "%d%%" 50 }} {{ printf "%q" route }}',
        'podinfo-primary 50% "podinfo-route"',
    ),
    ('{{ $x := "v" }}{{ $x = printf "%s2" $x }}{{ $x }}', "v2"),
    ("{{/* a comment */}}ok", "ok"),
    ('{{ `raw "s"` }} {{ "esc\\"q\\t" }} {{ 7 }} {{ 2.5 }}', 'raw "s" esc"q\t 7 2.5'),
]


@pytest.mark.parametrize(("template", "expected"), GO_VECTORS)
def test_renders_like_go(template: str, expected: str) -> None:
    """Functions, variables chains, trimming, $var assignment, printf, pipes and literals match Go's output."""
    assert render(template, CTX) == expected


def test_missing_variable_names_the_key() -> None:
    """A templateVariables key that is not defined is an error naming it (Go fails too, with missingkey=error)."""
    with pytest.raises(TemplateError, match="template variable 'missing' is not defined in templateVariables"):
        render("{{ variables.missing }}", CTX)


def test_unknown_function_is_an_error() -> None:
    """An undefined function is an error naming it (Go refuses to parse it)."""
    with pytest.raises(TemplateError, match="function 'nosuchfunc' is not defined"):
        render("{{ nosuchfunc }}", CTX)


def test_control_actions_are_refused_clearly() -> None:
    """if/range/with are named as unsupported instead of being rendered wrongly."""
    with pytest.raises(TemplateError, match="`if` actions are not supported"):
        render("{{ if namespace }}x{{ end }}", CTX)


def test_values_cannot_break_out_of_a_matcher() -> None:
    """A variable holding a quote and selectors stays inside its label matcher's string."""
    ctx = TemplateContext(
        name="p",
        namespace="test",
        target="p",
        service="p",
        ingress="p",
        route="p",
        interval="1m",
        variables={"team": 'a"} or vector(1) or x{y="'},
    )
    rendered = render('sum(rate(x{team="{{ variables.team }}"}[1m]))', ctx)
    assert rendered == r'sum(rate(x{team="a\"} or vector(1) or x{y=\""}[1m]))'
