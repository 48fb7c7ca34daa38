"""Label and annotation rules for objects Serinus copies from a user's: Flux keys dropped, prefixes filtered."""

from __future__ import annotations

from collections.abc import Mapping

from serinus.api.meta import TOOLKIT_MARKER, include_by_prefix, without_toolkit

__all__ = ["TOOLKIT_MARKER", "include_by_prefix", "primary_labels", "without_toolkit"]


def primary_labels(labels: Mapping[str, str] | None, label: str, primary_value: str) -> dict[str, str]:
    """Labels for a primary object: the given ones (toolkit keys dropped) with the selector label's value replaced."""
    out = {k: v for k, v in without_toolkit(labels).items() if k != label}
    out[label] = primary_value
    return out
