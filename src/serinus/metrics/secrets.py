"""Reading a provider's credentials from its MetricTemplate's Secret, naming missing keys, never values."""

from __future__ import annotations

from collections.abc import Mapping

from serinus.errors import InvalidSpecError


def required(provider: str, secret: Mapping[str, str], *keys: str) -> list[str]:
    """The values of `keys`, or an error naming every key the Secret lacks."""
    missing = [key for key in keys if not secret.get(key)]
    if missing:
        raise InvalidSpecError(f"{provider}: the secret has no {' or '.join(missing)}")
    return [secret[key] for key in keys]


def basic_auth_pair(provider: str, secret: Mapping[str, str]) -> tuple[str, str] | None:
    """username and password when the Secret gives either; both are then required."""
    if "username" not in secret and "password" not in secret:
        return None
    username, password = required(provider, secret, "username", "password")
    return username, password
