"""JSON exactly as Go's encoding/json writes it, for checksums and bodies that must match Flagger's bytes."""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """No spaces, HTML-safe escapes, UTF-8; `sort_keys` for Go maps (struct fields keep their order)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text.encode()
