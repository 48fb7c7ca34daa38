"""A problem found in a manifest: where (a field path), what (a sentence for people), and how bad."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Path = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Severity(StrEnum):
    """An error makes an object invalid; a warning does not."""

    ERROR = "error"
    WARNING = "warning"


def format_path(path: Sequence[str | int]) -> str:
    """`spec.analysis.metrics[0].interval`; map keys that are not plain words are quoted (`annotations["a/b"]`)."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += f"[{json.dumps(step)}]"
    return out or "<object>"


def show(value: Any, limit: int = 80) -> str:
    """A value as a person reads it in a message: JSON-like, shortened when long."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def yaml_number(value: float) -> str:
    """A number as YAML writes it: `.nan`, `.inf` and `-.inf` for the non-finite ones (Python's `nan` and `inf`
    would be strings in YAML), else as Python writes it."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def one_of(names: Sequence[str], joiner: str = "or") -> str:
    """`a`, `a or b`, `a, b or c`."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {joiner} " + names[-1]


@dataclass(frozen=True)
class Problem:
    """One finding about one field of one object."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR
    #: Short id of the check that found it (`schema`, `unknown-field`, `step-weights-order`, ...).
    rule: str = ""
    #: Flagger's own error or event text for the same condition, when it has one (for events and searches).
    flagger_message: str = ""

    @property
    def where(self) -> str:
        """The field path as text."""
        return format_path(self.path)

    @property
    def is_error(self) -> bool:
        """True for errors."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{self.where}: {self.message}"


def error(path: Path, message: str, rule: str, flagger_message: str = "") -> Problem:
    """An error problem."""
    return Problem(path, message, Severity.ERROR, rule, flagger_message)


def warning(path: Path, message: str, rule: str, flagger_message: str = "") -> Problem:
    """A warning problem."""
    return Problem(path, message, Severity.WARNING, rule, flagger_message)
