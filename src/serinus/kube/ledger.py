"""The Ledger port on a cluster: one CanaryRun object per run, one server-side apply per analysis step."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType

from serinus.engine.ledger import CANARY_LABEL, DEFAULT_RUNS, LedgerTick, Run, fold, run_name, to_prune
from serinus.engine.ports import PortError
from serinus.kube.client import FIELD_MANAGER
from serinus.kube.resources import CanaryRun

log = logging.getLogger("serinus.ledger")
Key = tuple[str, str]


def why(err: httpx2.HTTPError) -> str:
    """What the API server (or the connection to it) said, in one line."""
    if isinstance(err, ApiError):
        return f"{err.status.code} {err.status.message}"
    if isinstance(err, httpx2.HTTPStatusError):
        return f"{err.response.status_code} {err.response.reason_phrase}"
    return f"{type(err).__name__}: {err}"


def plain(obj: Any) -> dict[str, Any]:
    """A lightkube object (or a dict) as a plain dict."""
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {}


async def list_runs(client: AsyncClient, namespace: str, canary: str | None = None) -> list[Run]:
    """The CanaryRuns in `namespace` (of one Canary when `canary` is given), oldest first."""
    selector: dict[str, Any] = {CANARY_LABEL: canary} if canary else {}
    listed = client.list(CanaryRun, namespace=namespace, labels=selector or None)
    found = [Run.from_object(plain(obj)) async for obj in listed]
    return sorted(found, key=lambda run: (run.canary, run.index))


class KubeLedger:
    """Writes each step's tick into its CanaryRun (server-side apply of the whole object, so a step costs one
    request), opens and supersedes runs as `engine/ledger.py` `fold` says, and keeps `keep` runs per Canary.

    The Canary's newest run is cached between steps; the cache is filled from the cluster on the first step of a
    Canary (after a restart or a leader change) and dropped after any failed write, so the next step reads again.
    """

    def __init__(self, client: AsyncClient, keep: int = DEFAULT_RUNS) -> None:
        self.client = client
        self.keep = keep
        self._current: dict[Key, Run | None] = {}
        self._indices: dict[Key, list[int]] = {}
        self._missing = False

    async def write(self, tick: LedgerTick) -> None:
        """Add one step to its run; a failure is logged by the engine and forgets the cache."""
        key = (tick.namespace, tick.canary)
        try:
            current = self._current.get(key)
            if key not in self._current or (current is not None and current.canary_uid != tick.uid):
                current = await self._load(key, tick.uid)
            indices = self._indices[key]
            superseded, run = fold(current, tick, max(indices, default=0) + 1)
            if superseded is not None:
                await self._apply(superseded)
            new = current is None or run.name != current.name
            if new:
                await self._create(run)
            else:
                await self._apply(run)
            self._current[key] = run
            if new:
                indices.append(run.index)
                await self._prune(key)
        except httpx2.HTTPError as err:
            self._current.pop(key, None)
            if not isinstance(err, httpx2.HTTPStatusError) or err.response.status_code != 404:
                # an API server restarting or unreachable: the engine logs it in one line, the next step goes on
                raise PortError(f"run ledger of {tick.canary}.{tick.namespace}: {why(err)}") from None
            # a bare 404 page: the CanaryRun CRD is not installed (Flagger's CRDs alone); releases go on without it
            if not self._missing:
                log.warning("CanaryRun CRD not installed: no run ledger is kept until it is (deploy/crds/crds.yaml)")
            self._missing = True
        except BaseException:
            self._current.pop(key, None)
            raise

    async def _load(self, key: Key, uid: str) -> Run | None:
        namespace, canary = key
        runs = await list_runs(self.client, namespace, canary)
        # runs of an earlier Canary of the same name (not yet garbage-collected) keep their numbers, never grow
        self._indices[key] = [run.index for run in runs]
        mine = [run for run in runs if run.canary_uid == uid]
        current = mine[-1] if mine else None
        self._current[key] = current
        return current

    async def _create(self, run: Run) -> None:
        """A new run is created (a server-side apply that creates would need `create` besides `patch`, which the
        API server's audit never shows, so least privilege could not be proven); one left by a lost write is
        applied over."""
        try:
            await self.client.create(CanaryRun.from_dict(run.to_object()), field_manager=FIELD_MANAGER)
        except ApiError as err:
            if err.status.code != 409:
                raise
            await self._apply(run)

    async def _apply(self, run: Run) -> None:
        await self.client.patch(
            CanaryRun,
            run.name,
            run.to_object(),
            namespace=run.namespace,
            patch_type=PatchType.APPLY,
            field_manager=FIELD_MANAGER,
            force=True,
        )

    async def _prune(self, key: Key) -> None:
        namespace, canary = key
        indices = self._indices[key]
        for index in to_prune(indices, self.keep):
            try:
                await self.client.delete(CanaryRun, run_name(canary, index), namespace=namespace)
            except ApiError as err:
                if err.status.code != 404:
                    raise
            indices.remove(index)
