"""Which alerts an AlertProvider receives, by its severity."""

from __future__ import annotations

import pytest

from serinus.notify.alert import wants


@pytest.mark.parametrize(
    ("provider", "alert", "sent"),
    [
        ("info", "info", True),
        ("info", "warn", True),
        ("info", "error", True),
        ("warn", "info", False),
        ("warn", "warn", True),
        ("warn", "error", True),
        ("error", "info", False),
        ("error", "warn", False),
        ("error", "error", True),
        ("", "info", True),
        (None, "error", True),
    ],
)
def test_severity_filter(provider: str | None, alert: str, sent: bool) -> None:
    """info gets everything, warn gets warn and error, error only errors; unset means info."""
    assert wants(provider, alert) is sent
