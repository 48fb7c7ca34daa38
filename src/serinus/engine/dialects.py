"""How a value from a Canary is written into each metrics provider's query language, so that no value can change
the structure of a query (close a string, start a comment, add a selector or a URL parameter).

A template's own text decides where a value lands. The renderer follows the query language's lexical rules over the
text around each value (serinus.engine.templating) and writes the value for that spot:

- inside a string literal, escaped with that literal's rules (PromQL's Go escapes, JSON's, Dynatrace's `~`, YAML's
  `''`, ...); a raw string (PromQL's backticks) cannot escape its delimiter, so a value holding it is refused;
- outside any string, the value must be plain: ASCII letters, digits, `_`, `.` and `-` (everything a Kubernetes
  name, a duration or a number is made of); anything else is refused with a TemplateError naming the value;
- inside a comment, the value must not hold a line break (or the comment's end).

After the values are written, the whole query is read once more and a value that would still open or close a string
or a comment is refused. Values that are plain (every Kubernetes name) come out exactly as they went in: the output
for them is what Flagger's text/template gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

#: what a value may hold outside any string literal
PLAIN = re.compile(r"[A-Za-z0-9_.\-]*\Z")
PLAIN_TEXT = "ASCII letters, digits, '_', '.' and '-'"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Refused(ValueError):
    """A value cannot be written at this spot of the query; the message says why (without the value's name)."""


@dataclass(frozen=True)
class Quote:
    """One kind of string literal: its closing delimiter, how the language escapes inside it, and how a value is
    written into it (None: a raw string, whose delimiter a value must not hold)."""

    close: str
    escape_char: str = "\\"  # the character that escapes the next one in this literal; "" for none
    doubled: bool = False  # the delimiter written twice stands for itself ('it''s', YAML and SQL style)
    write: Callable[[str], str] | None = None


@dataclass(frozen=True)
class Dialect:
    """A query language's lexical rules, as far as a value's safety depends on them."""

    name: str
    title: str
    quotes: dict[str, Quote] = field(default_factory=dict)
    line_comments: tuple[str, ...] = ()
    block_comments: tuple[tuple[str, str], ...] = ()
    #: YAML: a quote opens a string only where a scalar starts, and `#` starts a comment only after a space
    yaml: bool = False


def _backslash(quote: str, *, newline: bool = True, extra: dict[str, str] | None = None) -> Callable[[str], str]:
    """Backslash escapes: the backslash and `quote` always; line breaks and tabs as \\n \\r \\t when `newline`
    (else they are refused); `extra` maps further characters to their escapes."""

    def write(value: str) -> str:
        if not newline:
            _one_line(value)
        out = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
        if newline:
            out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        for char, escaped in (extra or {}).items():
            out = out.replace(char, escaped)
        return out

    return write


def _one_line(value: str) -> None:
    """Refuse a line break, for a string literal with no escape for one."""
    if "\n" in value or "\r" in value:
        raise Refused("a line break cannot be written inside this string")


def _json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _doubled(quote: str) -> Callable[[str], str]:
    def write(value: str) -> str:
        _one_line(value)
        return value.replace(quote, quote * 2)

    return write


def _tilde(value: str) -> str:
    """Dynatrace's quoted strings escape `"` and `~` with `~`."""
    _one_line(value)
    return value.replace("~", "~~").replace('"', '~"')


def _url_safe(write: Callable[[str], str]) -> Callable[[str], str]:
    """Graphite's query is a URL query string read with parse_qsl: `%`, `&` and `+` are written percent-encoded,
    so that they reach graphite-web as themselves and cannot end the parameter."""

    def inner(value: str) -> str:
        return write(value).replace("%", "%25").replace("&", "%26").replace("+", "%2B")

    return inner


def _cloudwatch(value: str) -> str:
    """JSON, and no `'`: a string inside a Metrics Insights `Expression` is single-quoted, with no escape."""
    if "'" in value:
        raise Refused("a ' cannot be written into a CloudWatch query (it would end a Metrics Insights string)")
    return _json(value)


#: Go-style "..." and '...' strings with backslash escapes (PromQL, SignalFlow, MQL)
_GO_QUOTES = {'"': Quote('"', write=_backslash('"')), "'": Quote("'", write=_backslash("'"))}

PROMETHEUS = Dialect(
    "prometheus",
    "PromQL",
    quotes={**_GO_QUOTES, "`": Quote("`", escape_char="")},
    line_comments=("#",),
)

DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        PROMETHEUS,
        Dialect("datadog", "Datadog"),
        Dialect(
            "newrelic",
            "NRQL",
            quotes={"'": Quote("'", write=_backslash("'", newline=False)), "`": Quote("`", escape_char="")},
            line_comments=("--", "//"),
            block_comments=(("/*", "*/"),),
        ),
        Dialect(
            "graphite",
            "Graphite",
            quotes={
                "'": Quote("'", write=_url_safe(_backslash("'", newline=False))),
                '"': Quote('"', write=_url_safe(_backslash('"', newline=False))),
            },
        ),
        Dialect("dynatrace", "Dynatrace metric selector", quotes={'"': Quote('"', escape_char="~", write=_tilde)}),
        Dialect(
            "influxdb",
            "Flux",
            quotes={'"': Quote('"', write=_backslash('"', extra={"${": "\\${"}))},
            line_comments=("//",),
        ),
        Dialect("splunk", "SignalFlow", quotes=_GO_QUOTES, line_comments=("#",)),
        Dialect("stackdriver", "MQL", quotes=_GO_QUOTES, line_comments=("#",)),
        Dialect("cloudwatch", "CloudWatch", quotes={'"': Quote('"', write=_cloudwatch)}),
        Dialect(
            "kayenta",
            "Kayenta",
            quotes={'"': Quote('"', write=_json), "'": Quote("'", escape_char="", doubled=True, write=_doubled("'"))},
            line_comments=("#",),
            yaml=True,
        ),
        Dialect("keptn", "Keptn"),
        Dialect("externalmetrics", "External Metrics"),
    )
}


def dialect_of(provider_type: str) -> Dialect:
    """The dialect of a MetricTemplate provider type; PromQL for anything unknown (as the provider's own error
    is reported when it is built)."""
    return DIALECTS.get(provider_type, PROMETHEUS)


def check_value(value: str) -> None:
    """What no dialect accepts: control characters other than tab and line breaks."""
    if _CONTROL.search(value):
        raise Refused("it holds a control character")
