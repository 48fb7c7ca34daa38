"""Metrics read from the Kubernetes API itself (keptn, externalmetrics): resources, selectors and errors."""

from __future__ import annotations

import re
from typing import Any

from lightkube import operators
from lightkube.generic_resource import create_namespaced_resource

from serinus.errors import QueryFailed


def resource(group: str, version: str, kind: str, plural: str) -> Any:
    """The lightkube class of a namespaced custom resource (one per plural, created once)."""
    return create_namespaced_resource(group, version, kind, plural)


_TERM = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9._/-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def label_selector(selector: str) -> dict[str, Any]:
    """A label selector string (`app=web,tier in (a,b),!canary`) as lightkube's label filter."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    labels: dict[str, Any] = {}
    for term in filter(str.strip, terms):
        match = _TERM.match(term)
        if match is None:
            raise QueryFailed(f"invalid label selector term {term.strip()!r}")
        key = match["key"]
        if match["neg"]:
            labels[key] = operators.not_exists()
        elif match["op"] in ("=", "=="):
            labels[key] = match["value"]
        elif match["op"] == "!=":
            labels[key] = operators.not_equal(match["value"])
        elif match["set"]:
            values = [v.strip() for v in match["values"].split(",") if v.strip()]
            labels[key] = operators.in_(values) if match["set"] == "in" else operators.not_in(values)
        else:
            labels[key] = operators.exists()
    return labels
