"""Session affinity for the Istio and Gateway API routers: the status cookies, `Set-Cookie` values and the
`Cookie` header regex that pins a client to the side it first landed on (Flagger's getSessionAffinityRouteRules
in pkg/router/istio.go and pkg/router/gateway_api.go).

A router's set_routes advances the three status cookies and returns them; the caller persists them with the
next status write, as Flagger does.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from serinus.api.duration import SECOND, DurationError, parse_duration
from serinus.errors import RouterError

Obj = Mapping[str, Any]
COOKIE_HEADER = "Cookie"
SET_COOKIE_HEADER = "Set-Cookie"
DEFAULT_MAX_AGE = 86400
_LETTERS = string.ascii_lowercase + string.ascii_uppercase


def random_value() -> str:
    """Ten random ASCII letters, the value part of a generated cookie."""
    return "".join(random.choice(_LETTERS) for _ in range(10))


@dataclass(frozen=True)
class Cookies:
    """The three session-affinity cookies of a Canary's status, each `<name>=<value>` or empty."""

    session: str = ""
    primary: str = ""
    previous: str = ""

    @classmethod
    def from_status(cls, status: Obj | None) -> Cookies:
        """Read them from a Canary's status dict."""
        status = status or {}
        return cls(
            str(status.get("sessionAffinityCookie") or ""),
            str(status.get("primarySessionAffinityCookie") or ""),
            str(status.get("previousSessionAffinityCookie") or ""),
        )

    def as_status(self) -> dict[str, str]:
        """The status fields to persist (an empty string clears a field)."""
        return {
            "sessionAffinityCookie": self.session,
            "primarySessionAffinityCookie": self.primary,
            "previousSessionAffinityCookie": self.previous,
        }


def session_affinity(canary: Obj) -> Obj | None:
    """spec.analysis.sessionAffinity, or None when the Canary does not ask for it."""
    analysis = (canary.get("spec") or {}).get("analysis") or (canary.get("spec") or {}).get("canaryAnalysis") or {}
    sa = analysis.get("sessionAffinity")
    return sa if isinstance(sa, Mapping) else None


def build_cookie(sa: Obj, cookie: str, max_age: int) -> str:
    """The `Set-Cookie` value: `<cookie>; Max-Age=<n>` plus the Canary's Domain, HttpOnly, Partitioned, Path,
    SameSite and Secure attributes, in Flagger's order."""
    out = f"{cookie}; Max-Age={max_age}"
    if sa.get("domain"):
        out += f"; Domain={sa['domain']}"
    if sa.get("httpOnly"):
        out += "; HttpOnly"
    if sa.get("partitioned"):
        out += "; Partitioned"
    if sa.get("path"):
        out += f"; Path={sa['path']}"
    if sa.get("sameSite"):
        out += f"; SameSite={sa['sameSite']}"
    if sa.get("secure"):
        out += "; Secure"
    return out


def max_age(sa: Obj) -> int:
    """The canary cookie's lifetime in seconds (a day unless maxAge says otherwise)."""
    return int(sa.get("maxAge") or 0) or DEFAULT_MAX_AGE


def interval_seconds(canary: Obj) -> int:
    """The analysis interval in whole seconds: the primary cookie's lifetime."""
    analysis = (canary.get("spec") or {}).get("analysis") or {}
    try:
        return parse_duration(str(analysis.get("interval") or "")) // SECOND
    except DurationError as err:
        raise RouterError(f"failed to parse canary interval: {err}") from err


def cookie_regex(cookie: str) -> str:
    """The `Cookie` header regex that matches a request carrying `<name>=<value>`."""
    parts = cookie.split("=")
    name, value = parts[0], parts[1] if len(parts) > 1 else ""
    return f".*{name}.*{value}.*"


def deletion_cookie(cookie: str) -> str:
    """The `Set-Cookie` value that makes a browser drop a cookie."""
    return f"{cookie}; Max-Age=-1"


def advance(
    cookies: Cookies, sa: Obj, canary_weight: int, *, with_primary: bool, rand: Callable[[], str] = random_value
) -> Cookies:
    """The cookies after a weight change: while the canary gets traffic, generate the missing ones (QUIRK: the
    primary cookie is generated even without primaryCookieName, as `=<value>`); at weight 0 the current cookie
    becomes the previous one and is cleared."""
    if canary_weight != 0:
        if not cookies.session:
            cookies = replace(cookies, session=f"{sa.get('cookieName') or ''}={rand()}")
        if with_primary and not cookies.primary:
            cookies = replace(cookies, primary=f"{sa.get('primaryCookieName') or ''}={rand()}")
        return cookies
    previous = cookies.session or cookies.previous
    return replace(cookies, previous=previous, session="")
