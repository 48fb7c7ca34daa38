"""The one error hierarchy of Serinus."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def safe_url(url: str, *, keep_path: bool = True) -> str:
    """A URL fit for a message: no user:password, no query string, and (for webhook URLs, whose path is the
    secret) optionally no path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path if keep_path else "", "", ""))


class SerinusError(Exception):
    """Base of every error Serinus raises on purpose."""


class InvalidSpecError(SerinusError):
    """A Canary, MetricTemplate or AlertProvider is not valid; the message names the field."""


class JudgeStateError(SerinusError):
    """The statistical judge's state in a Canary's status (status.judge.state) cannot be read; the message names
    the field."""


class ProviderError(SerinusError):
    """A metrics, router or alert provider failed; the message names the provider and the address."""


class MetricsError(ProviderError):
    """A metric query did not give a number. Each subclass is a different thing for a person to fix."""

    def __init__(self, message: str, *, provider: str = "", address: str = "", query: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.address = address
        self.query = query


class NoValuesFound(MetricsError):
    """The query ran but matched no series (often: no traffic yet). Flagger halts, without counting a failure."""


class MultipleValues(MetricsError):
    """The query returned several series or a range where one number was expected."""


class QueryFailed(MetricsError):
    """The provider answered but rejected the query (syntax, bad request, server error)."""


class MalformedAnswer(QueryFailed):
    """The provider answered, but not with a finite number where one was expected: +Inf, a string that is not a
    number, null, or a body of the wrong shape (a list where an object belongs, ...). Counted as a failed check."""


class ProviderUnreachable(MetricsError):
    """The provider could not be reached (connection refused, DNS, TLS, timeout)."""


class AuthenticationFailed(MetricsError):
    """The provider refused the credentials (HTTP 401/403)."""


class RouterError(ProviderError):
    """A router cannot do its work; the message is Flagger's where Flagger has one."""


class DeadlineExceeded(SerinusError, TimeoutError):
    """A request to another server did not finish (connection, headers and the whole body) within its time.

    A TimeoutError, so code that already treats timeouts and OSErrors as "no answer" treats this one alike."""

    def __init__(self, message: str, *, timeout_s: float) -> None:
        super().__init__(message)
        self.timeout_s = timeout_s


class ResponseTooLarge(SerinusError):
    """A server's answer was larger than Serinus reads; `read` is how many bytes were read before stopping, and
    `status` the answer's HTTP status."""

    def __init__(self, message: str, *, limit: int, read: int, status: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.read = read
        self.status = status
