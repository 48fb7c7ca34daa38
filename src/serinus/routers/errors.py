"""The error a router raises when a Canary asks for something its provider cannot do."""

from __future__ import annotations

from serinus.errors import ProviderError


class RouterError(ProviderError):
    """A router cannot build or read its objects; the message is Flagger's where Flagger has one."""
