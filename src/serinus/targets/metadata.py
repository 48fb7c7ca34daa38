"""Label and annotation rules for objects Serinus copies from a user's: Flux keys dropped, prefixes filtered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

TOOLKIT_MARKER = "toolkit.fluxcd.io"


def without_toolkit(meta: Mapping[str, str] | None) -> dict[str, str]:
    """Every key except Flux's `*toolkit.fluxcd.io*` ones, which must never be copied to a primary."""
    return {k: v for k, v in (meta or {}).items() if TOOLKIT_MARKER not in k}


def include_by_prefix(meta: Mapping[str, str] | None, prefixes: Iterable[str]) -> dict[str, str]:
    """Keys starting with one of `prefixes` (`*` = all), Flux toolkit keys always excluded."""
    prefixes = list(prefixes)
    out: dict[str, str] = {}
    for key, value in without_toolkit(meta).items():
        if any(p == "*" or (p and key.startswith(p)) for p in prefixes):
            out[key] = value
    return out


def primary_labels(labels: Mapping[str, str] | None, label: str, primary_value: str) -> dict[str, str]:
    """Labels for a primary object: the given ones (toolkit keys dropped) with the selector label's value replaced."""
    out = {k: v for k, v in without_toolkit(labels).items() if k != label}
    out[label] = primary_value
    return out
