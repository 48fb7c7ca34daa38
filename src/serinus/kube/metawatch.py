"""A watch that sees only the metadata of objects, and only their changes from the moment it starts.

Config tracking needs to know *that* a ConfigMap or Secret changed, never what every one of them holds: the
analysis reads a referenced config itself (one GET) when it runs. An informer (Flagger's, or kopf's list+watch)
lists every Secret of the cluster, data included, at start and after every expired watch, and Helm keeps each
release's manifests in a Secret, so that listing alone can be hundreds of megabytes.

This watch asks the API server for `PartialObjectMetadata` (the representation client-go's metadata informers
use), so no `data` ever crosses the wire, and it starts from the collection's current resourceVersion (a list of
one item), so there is no initial listing: its memory does not grow with the number or size of objects. It holds
no object: each event is reduced to a `Change` (type, namespace, name) and handed on.

When the API server says the resourceVersion is too old (410 Gone) the watch starts again from now; changes in
that gap are not reported (the analysis still sees them at its next interval, as Flagger would).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
from lightkube.config.client_adapter import user_auth
from lightkube.config.kubeconfig import SingleConfig

from serinus.errors import SerinusError
from serinus.kube.client import transport_for

log = logging.getLogger(__name__)

#: what client-go's metadata client sends: metadata only, as a list for a list and as single objects for a watch
#: (offered the list form on a watch, the API server picks it and closes the stream at the first event)
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
SERVER_TIMEOUT_S = 300
BACKOFFS_S: tuple[float, ...] = (1, 2, 5, 10)


@dataclass(frozen=True)
class Change:
    """One watch event, reduced to what happened to which object."""

    type: str  # ADDED, MODIFIED or DELETED
    namespace: str
    name: str


class WatchExpired(SerinusError):
    """The API server no longer has the resourceVersion a watch would resume from (HTTP 410 Gone)."""


def collection_path(plural: str, namespace: str | None, group: str = "", version: str = "v1") -> str:
    """The API path of a collection, in one namespace or across all."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


class MetadataWatch:
    """Changes to the objects of one collection (`collection_path`), as they happen, metadata only."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        path: str,
        *,
        server_timeout_s: int = SERVER_TIMEOUT_S,
        backoffs_s: Sequence[float] = BACKOFFS_S,
    ) -> None:
        self.http = http
        self.path = path
        self.server_timeout_s = server_timeout_s
        self.backoffs_s = tuple(backoffs_s) or (1.0,)

    @classmethod
    def connect(cls, config: SingleConfig, path: str, **kwargs: Any) -> MetadataWatch:
        """A watch with its own HTTP client from the operator's kubeconfig (a watch holds its connection), on the
        Kubernetes client's transport: the same TLS, proxy and request deadline, and a watch given up after
        30 s of silence past the server's own timeout."""
        idle_s = kwargs.get("server_timeout_s", SERVER_TIMEOUT_S) + 30.0
        http = httpx2.AsyncClient(
            base_url=config.cluster.server,
            auth=user_auth(config.user),
            transport=transport_for(config, watch_idle_s=idle_s),
            timeout=httpx2.Timeout(10.0, read=None),  # each read is the transport's to bound
        )
        return cls(http, path, **kwargs)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    async def current_version(self) -> str:
        """The collection's resourceVersion now, from a list of at most one object's metadata."""
        response = await self.http.get(self.path, params={"limit": "1"}, headers={"Accept": METADATA_LIST})
        response.raise_for_status()
        return str(response.json()["metadata"]["resourceVersion"])

    async def events(
        self, version: str, on_stream: Callable[[], None] | None = None
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """(type, object) of each event of one watch request from `version`, until the server ends it; bookmarks
        included. `WatchExpired` when the API server no longer has `version`."""
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.server_timeout_s),
        }
        async with self.http.stream("GET", self.path, params=params, headers={"Accept": METADATA_WATCH}) as response:
            if response.status_code == 410:
                raise WatchExpired
            response.raise_for_status()
            if on_stream is not None:
                on_stream()
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = str(event["type"]), dict(event.get("object") or {})
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired
                    raise ValueError(f"watch error {obj.get('code')}: {obj.get('message')}")
                yield kind, obj

    async def changes(
        self, on_stream: Callable[[], None] | None = None, *, since: str | None = None
    ) -> AsyncGenerator[Change, None]:
        """Every change from now on (or after resourceVersion `since`), for as long as the caller iterates;
        `on_stream` is called each time a watch request is accepted. Connection failures and API errors are logged
        and retried with a backoff."""
        version = since
        failures = 0
        while True:
            try:
                if version is None:
                    version = await self.current_version()
                started, events = asyncio.get_running_loop().time(), 0
                async for kind, obj in self.events(version, on_stream):
                    failures, events = 0, events + 1
                    meta = obj.get("metadata") or {}
                    version = str(meta.get("resourceVersion") or version)
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        yield Change(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
                # The server ended the request (after timeoutSeconds): resume from the last version seen, at
                # once, unless it ended at once with nothing said (then it is not well: back off).
                if not events and asyncio.get_running_loop().time() - started < 1.0:
                    raise ValueError("the watch ended at once")
            except WatchExpired:
                log.info("watch of %s expired; resuming from now", self.path)
                version = None
            except (httpx2.HTTPError, OSError, ValueError, KeyError) as err:
                failures += 1
                delay = self.backoffs_s[min(failures, len(self.backoffs_s)) - 1]
                log.warning("watch of %s failed (%s); retrying in %s s", self.path, _describe(err), delay)
                await asyncio.sleep(delay)


def _describe(err: BaseException) -> str:
    """An error in a few words: the HTTP status where there was one (403 says: check the RBAC)."""
    if isinstance(err, httpx2.HTTPStatusError):
        return f"HTTP {err.response.status_code}"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
