"""MetricTemplate queries render exactly as Go's text/template renders them, and values cannot inject selectors: in
every provider's query language a value is escaped inside a string literal and must be plain outside one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote_plus

import pytest
import yaml

from serinus.engine.dialects import DIALECTS
from serinus.engine.templating import TemplateContext, TemplateError, render
from serinus.metrics.registry import PROVIDERS

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


# ----- values are written for the query language of the provider --------------------------------------------------

ATTACKS = [
    'a"} or vector(1) #',
    "a' or vector(1) or x{b='",
    'a\\" or x',
    'a~" or ~~x',
    "${token} + %26 & b=c",
    "a`b -- /* x */",
]


def _unescape_backslashes(body: str) -> str:
    """Go's, JSON's and Python's escapes for the characters the attacks hold (`\\\\`, `\\"`, `\\'`, `\\$`)."""
    return re.sub(r"\\(.)", lambda m: m.group(1), body)


#: provider -> (a template with one value inside a string literal, how that literal's body decodes)
LITERALS: dict[str, tuple[str, Callable[[str], str]]] = {
    "prometheus": ('sum(rate(x{team="{{ variables.x }}"}[{{ interval }}]))', _unescape_backslashes),
    "newrelic": ("SELECT count(*) FROM Transaction WHERE appName = '{{ variables.x }}'", _unescape_backslashes),
    "graphite": (
        "target=alias(sumSeries(stats.{{ target }}.errors), '{{ variables.x }}')&from=-5min",
        lambda body: _unescape_backslashes(unquote_plus(body)),
    ),
    "dynatrace": (
        'builtin:service.errors.total.count:filter(eq("dt.entity.service","{{ variables.x }}"))',
        lambda body: re.sub(r"~(.)", lambda m: m.group(1), body),
    ),
    "influxdb": (
        'from(bucket: "b") |> range(start: -{{ interval }}) |> filter(fn: (r) => r.app == "{{ variables.x }}")',
        _unescape_backslashes,
    ),
    "splunk": ("data('errors', filter=filter('app', '{{ variables.x }}')).publish()", _unescape_backslashes),
    "stackdriver": (
        "fetch k8s_container | filter (resource.namespace_name == '{{ variables.x }}')",
        _unescape_backslashes,
    ),
    "cloudwatch": ('[{"Id": "e1", "Label": "{{ variables.x }}", "Period": 60}]', lambda body: json.loads(f'"{body}"')),
    "kayenta": (
        "canaryConfigId: c1\nscopes:\n  default:\n    controlScope: {scope: '{{ variables.x }}', step: 60}",
        lambda body: body.replace("''", "'"),
    ),
}
#: providers whose queries have no string literal: values must be plain
BARE_ONLY = {
    "datadog": "sum:trace.http.request.errors{service:{{ variables.x }}}.as_count()",
    "keptn": "keptnmetric/{{ namespace }}/{{ variables.x }}",
    "externalmetrics": "{{ namespace }}/rps?labelSelector=app%3D{{ variables.x }}",
}


def _with(value: str) -> TemplateContext:
    return TemplateContext("podinfo", "test", "podinfo", "podinfo", "podinfo", "podinfo", "1m", {"x": value})


def test_every_provider_has_a_dialect_and_a_test() -> None:
    """Each metrics provider type renders with its own query language's rules, and each is tried below."""
    assert set(DIALECTS) == set(PROVIDERS) == set(LITERALS) | set(BARE_ONLY)


#: what a language cannot hold in a string: a ' in CloudWatch (Metrics Insights strings inside an Expression have
#: no escape); everything else in the attacks is escaped
REFUSED = {("cloudwatch", "a' or vector(1) or x{b='")}


@pytest.mark.parametrize("provider", sorted(LITERALS))
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_quote_breaking_value_stays_inside_its_string(provider: str, attack: str) -> None:
    """A value built to close its string and add to the query comes out as the same query with only the string's
    content changed, and that content decodes (by the language's escape rules) to exactly the value; what the
    language cannot hold is refused with a message naming the value and the language."""
    template, decode = LITERALS[provider]
    dialect = DIALECTS[provider]
    if (provider, attack) in REFUSED:
        with pytest.raises(TemplateError) as refused:
            render(template, _with(attack), dialect)
        assert str(refused.value).startswith(f"the value of variables.x ({attack!r}) cannot be written into this ")
        return
    prefix, _, suffix = render(template, _with("PLACEHOLDER"), dialect).partition("PLACEHOLDER")
    query = render(template, _with(attack), dialect)
    assert query.startswith(prefix)
    assert query.endswith(suffix)
    assert decode(query[len(prefix) : len(query) - len(suffix)]) == attack


@pytest.mark.parametrize("provider", sorted(DIALECTS))
def test_a_value_outside_any_string_must_be_plain(provider: str) -> None:
    """Outside a string literal no escape exists: a value with anything but letters, digits, `_ . -` is refused
    with a message that says what is allowed."""
    template = BARE_ONLY.get(provider) or "{{ variables.x }} " + LITERALS[provider][0]
    with pytest.raises(TemplateError) as raised:
        render(template, _with('a"} or vector(1) #'), DIALECTS[provider])
    assert "outside a string literal a value may only hold ASCII letters, digits, '_', '.' and '-'" in str(raised.value)


@pytest.mark.parametrize("provider", sorted(DIALECTS))
def test_kubernetes_names_come_out_as_go_writes_them(provider: str) -> None:
    """Plain values (Kubernetes names, durations) are written as they are, in strings and outside them: the query
    is what Flagger's text/template renders."""
    template = BARE_ONLY.get(provider) or LITERALS[provider][0]
    for value in ("podinfo", "my-app.v2", "team_a", "1m30s", "0.5"):
        expected = (
            template.replace("{{ variables.x }}", value)
            .replace("{{ namespace }}", "test")
            .replace("{{ target }}", "podinfo")
            .replace("{{ interval }}", "1m")
        )
        assert render(template, _with(value), DIALECTS[provider]) == expected


def test_printf_q_quotes_a_value_once_with_the_languages_escapes() -> None:
    """`printf "%q"` opens a string: the value inside is escaped once (Go's output for plain values)."""
    assert render('x{a={{ printf "%q" variables.x }}}', _with("podinfo")) == 'x{a="podinfo"}'
    assert render('x{a={{ printf "%q" variables.x }}}', _with('a"} or vector(1) #')) == r'x{a="a\"} or vector(1) #"}'


def test_a_value_cannot_complete_a_comment_the_template_started() -> None:
    """NRQL's `--` comment: a template's `-` followed by a value starting with `-` would comment out the rest of
    the query; the whole query is read again after writing, and that is refused."""
    with pytest.raises(TemplateError, match="it would open or close a string or a comment"):
        render("SELECT count(*) FROM T WHERE x > -{{ variables.x }} AND y = 1", _with("-1"), DIALECTS["newrelic"])


def test_a_template_escape_before_a_value_cannot_free_its_quote() -> None:
    """A template that puts a backslash right before a value: the escaped quote of the value would be freed by
    it, so the value is refused rather than allowed to close the string."""
    with pytest.raises(TemplateError, match="it would open or close a string or a comment"):
        render('x{a="\\{{ variables.x }}"}', _with('"} or vector(1) #'))


def test_a_raw_string_cannot_hold_its_delimiter() -> None:
    """PromQL's backtick strings have no escapes: a value holding a backtick is refused there."""
    with pytest.raises(TemplateError, match=re.escape("a `...` string cannot hold `")):
        render("x{a=`{{ variables.x }}`}", _with("a` or vector(1) #"))
    assert render("x{a=`{{ variables.x }}`}", _with('a"b')) == 'x{a=`a"b`}'


def test_control_characters_and_line_breaks() -> None:
    """A control character is refused everywhere; a line break is escaped where the language has an escape for
    it (PromQL) and refused where it has none (NRQL)."""
    with pytest.raises(TemplateError, match="control character"):
        render('x{a="{{ variables.x }}"}', _with("a\x00b"))
    assert render('x{a="{{ variables.x }}"}', _with("a\nb")) == 'x{a="a\\nb"}'
    with pytest.raises(TemplateError, match="line break"):
        render("SELECT 1 FROM T WHERE a = '{{ variables.x }}'", _with("a\nb"), DIALECTS["newrelic"])


def test_kayenta_yaml_keeps_its_keys() -> None:
    """In Kayenta's YAML a value cannot add a key: quoted, it is the scalar it was given (checked by a YAML
    parser); unquoted, anything but a plain name is refused."""
    template = 'canaryConfigId: c1\nscopes:\n  default:\n    experimentScope: {scope: "{{ variables.x }}", step: 60}'
    attack = 'x", step: 1, extra: "y'
    doc = yaml.safe_load(render(template, _with(attack), DIALECTS["kayenta"]))
    assert doc["scopes"]["default"]["experimentScope"] == {"scope": attack, "step": 60}
    with pytest.raises(TemplateError, match="outside a string literal"):
        render(template.replace('"{{ variables.x }}"', "{{ variables.x }}"), _with("x, step: 1"), DIALECTS["kayenta"])


def test_cloudwatch_json_keeps_its_fields() -> None:
    """In CloudWatch's JSON a value cannot add a field: the query still parses to the same list, the value as
    the field's string."""
    template = '[{"Id": "e1", "Label": "{{ variables.x }}", "Period": 60}]'
    attack = 'x", "Period": 1, "Expression": "SUM(y)'
    assert json.loads(render(template, _with(attack), DIALECTS["cloudwatch"])) == [
        {"Id": "e1", "Label": attack, "Period": 60}
    ]
