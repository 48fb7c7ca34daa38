"""What the API server does with a custom object and its CRD schema: prune unknown fields, then validate.

Covers the part of OpenAPI v3 that structural CRD schemas use (types, int-or-string, enum, pattern, lengths,
bounds, required, oneOf / anyOf / not, the date-time format), with messages a person can act on. CEL rules are
not interpreted in general; the ones our CRDs carry are implemented in `KNOWN_RULES`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from serinus.api.base import camel
from serinus.api.problems import Path, Problem, error, one_of, show, warning, yaml_number

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys to values",
}

#: Friendlier words for the patterns people trip over.
_PATTERN_WORDS = {
    "^[0-9]+(m|s)": "a duration starting with a number of minutes or seconds, like 30s, 1m or 1m30s",
}


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def _has_type(value: Any, expected: str) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        # The API server sees JSON, where 5.0 and 5 are the same integer.
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, Mapping)
    return True


def _service_backend_has_port(value: Mapping[str, Any]) -> bool:
    group = value.get("group", "")
    kind = value.get("kind", "Service")
    return not (group == "" and kind == "Service") or "port" in value


#: CEL rules our CRDs carry, as Python predicates over the (defaulted) object.
KNOWN_RULES: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true": _service_backend_has_port,
}


def _suggest(key: str, known: list[str]) -> str:
    if camel(key) in known and camel(key) != key:
        return f"; did you mean {camel(key)}?"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    if close:
        return f"; did you mean {close[0]}?"
    return ""


def prune(schema: Mapping[str, Any], value: Any, path: Path = ()) -> tuple[Any, list[Problem]]:
    """The value as the API server stores it, and a warning for every field or null it drops."""
    problems: list[Problem] = []
    if isinstance(value, Mapping):
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields", False)
        opaque = not properties and extra is None
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = properties.get(key) if key in properties else extra if isinstance(extra, Mapping) else None
            if child is None and not (keep_unknown or opaque):
                problems.append(
                    warning(
                        (*path, key),
                        "unknown field, the API server drops it" + _suggest(str(key), list(properties)),
                        "unknown-field",
                    )
                )
                continue
            if item is None and not (child or {}).get("nullable", False):
                problems.append(warning((*path, key), "is empty (null), the API server drops it", "null-field"))
                continue
            if child is None:
                out[key] = item
                continue
            out[key], found = prune(child, item, (*path, key))
            problems += found
        return out, problems
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        items = []
        for index, item in enumerate(value):
            pruned, found = prune(schema["items"], item, (*path, index))
            items.append(pruned)
            problems += found
        return items, problems
    return value, problems


def _is_datetime(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in text.upper()


def _check_scalar(schema: Mapping[str, Any], value: Any, path: Path) -> list[Problem]:
    out: list[Problem] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = [str(v) if v != "" else '""' for v in schema["enum"]]
        hint = difflib.get_close_matches(str(value), [str(v) for v in schema["enum"]], n=1, cutoff=0.6)
        more = f"; did you mean {hint[0]}?" if hint else ""
        out.append(error(path, f"must be one of {one_of(allowed)}, got {show(value)}{more}", "schema"))
    if isinstance(value, str):
        pattern = schema.get("pattern")
        if pattern is not None and re.search(pattern, value) is None:
            words = _PATTERN_WORDS.get(pattern, f"text matching {pattern}")
            out.append(error(path, f"must be {words}, got {show(value)}", "schema"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(
                error(path, f"must be at least {schema['minLength']} characters long, got {show(value)}", "schema")
            )
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(
                error(path, f"must be at most {schema['maxLength']} characters long, got {len(value)}", "schema")
            )
        if schema.get("format") in ("date-time", "datetime") and not _is_datetime(value):
            out.append(error(path, f"must be an RFC 3339 time like 2024-05-01T10:00:00Z, got {show(value)}", "schema"))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(error(path, f"must be at least {schema['minimum']}, got {show(value)}", "schema"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(error(path, f"must be at most {schema['maximum']}, got {show(value)}", "schema"))
    return out


def _not_any_required(branch: Mapping[str, Any]) -> list[str] | None:
    """For `{not: {anyOf: [{required: [a]}, ...]}}` the keys a..., else None."""
    inner = branch.get("not", {}).get("anyOf") if set(branch) == {"not"} else None
    if not isinstance(inner, list) or not all(set(b) == {"required"} for b in inner):
        return None
    return [key for b in inner for key in b["required"]]


def _one_of(branches: list[Mapping[str, Any]], value: Any, path: Path) -> list[Problem]:
    matching = [b for b in branches if not validate(b, value, path)]
    if len(matching) == 1:
        return []
    present = set(value) if isinstance(value, Mapping) else set()
    nothing = [keys for b in branches if (keys := _not_any_required(b)) is not None]
    requireds = [b.get("required", []) for b in branches if _not_any_required(b) is None]
    if nothing:
        keys = [k for group in requireds for k in group]
        got = [k for k in keys if k in present]
        return [error(path, f"must set at most one of {one_of(keys)}, got {one_of(got, 'and')}", "schema")]
    common = [k for k in requireds[0] if all(k in r for r in requireds)] if requireds else []
    choices = [k for r in requireds for k in r if k not in common]
    if len(matching) > 1 or sum(k in present for k in choices) > 1:
        got = [k for k in choices if k in present]
        return [error(path, f"must set only one of {one_of(choices)}, got {one_of(got, 'and')}", "schema")]
    satisfied = [b for b in branches if all(k in present for k in b.get("required", []))]
    if len(satisfied) == 1:
        # The one shape the object aims at fails deeper down: report that, not the oneOf.
        return validate(satisfied[0], value, path)
    out = [error((*path, k), "is required", "schema") for k in common if k not in present]
    if not any(k in present for k in choices):
        out.append(error(path, f"must set one of {one_of(choices)}", "schema"))
    return out or [error(path, "does not match exactly one of the allowed forms", "schema")]


def validate(schema: Mapping[str, Any], value: Any, path: Path = ()) -> list[Problem]:
    """Every way `value` breaks `schema`, as the API server would reject it."""
    int_or_string = isinstance(value, str) or _has_type(value, "integer")
    if schema.get("x-kubernetes-int-or-string") and not int_or_string:
        return [error(path, f"must be a whole number or a name, got {show(value)}", "schema")]
    expected = schema.get("type")
    if isinstance(value, float) and not math.isfinite(value) and expected in (None, "number", "integer"):
        # YAML's .nan and .inf: JSON has no word for them, so kubectl cannot send them and Go cannot decode them.
        return [error(path, f"must be a finite number, got {yaml_number(value)}", "schema")]
    if expected is not None and not _has_type(value, expected):
        got = _kind_of(value)
        hint = "; quote it" if expected == "string" and got in ("integer", "number", "boolean") else ""
        return [error(path, f"must be {_TYPE_WORDS[expected]}, got {got} {show(value)}{hint}", "schema")]
    out = _check_scalar(schema, value, path)
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(error(path, f"must have at most {schema['maxItems']} entries, got {len(value)}", "schema"))
        if isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                out += validate(schema["items"], item, (*path, index))
    if isinstance(value, Mapping):
        for key in schema.get("required", []):
            if key not in value:
                out.append(error((*path, key), "is required", "schema"))
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                out += validate(properties[key], item, (*path, key))
            elif isinstance(extra, Mapping):
                out += validate(extra, item, (*path, key))
        for rule in schema.get("x-kubernetes-validations", []):
            check = KNOWN_RULES.get(rule["rule"])
            if check is not None and not check(value):
                out.append(error(path, rule["message"][:1].lower() + rule["message"][1:], "schema"))
    if "oneOf" in schema:
        out += _one_of(list(schema["oneOf"]), value, path)
    if "anyOf" in schema and not any(not validate(b, value, path) for b in schema["anyOf"]):
        out.append(error(path, "does not match any of the allowed forms", "schema"))
    if "not" in schema and not validate(schema["not"], value, path):
        out.append(error(path, "matches a form that is not allowed", "schema"))
    return out
