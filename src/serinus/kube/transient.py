"""What a call to the Kubernetes API raises when the API server, etcd or the network in between misbehaves.

lightkube's AsyncClient passes its transport's exceptions on unchanged: httpx2's `TransportError` family
(refused or reset connections, TLS handshakes, timeouts, truncated answers), `HTTPStatusError` for an error page
that is not JSON (a proxy's 502), lightkube's `ApiError` (an `HTTPStatusError`) for the API server's own Status
answers, and JSON decoding errors for a garbled body. None of these is an `OSError` or a `TimeoutError`, so code
that must outlive a blip of the control plane catches `API_ERRORS` (serinus.net's, so that a metrics provider
reading the API, which may not import this package, catches the same) and asks `is_transient` whether a retry may
succeed.
"""

from __future__ import annotations

import httpx2
from lightkube import ApiError

from serinus.net import API_ERRORS

#: HTTP answers that say "not now" rather than "no": rate limiting, and the API server or etcd unavailable
TRANSIENT_STATUS = frozenset({429}) | frozenset(range(500, 600))


def status_code(err: BaseException) -> int | None:
    """The HTTP status of an API error answer, or None for a failure that got no answer."""
    if isinstance(err, ApiError):
        code = err.status.code if err.status is not None else None
        return int(code) if code else None
    if isinstance(err, httpx2.HTTPStatusError):
        return int(err.response.status_code)
    return None


def is_transient(err: BaseException) -> bool:
    """Whether the same API call may succeed if tried again: no answer at all (connection refused or reset, TLS
    failure, timeout, truncated or garbled body), or an answer of 429 or 5xx. 4xx answers (403, 404, 409, ...)
    are definite and so are programming errors (anything not in API_ERRORS)."""
    if isinstance(err, httpx2.HTTPStatusError):
        code = status_code(err)
        return code is None or code in TRANSIENT_STATUS
    return isinstance(err, API_ERRORS)
