"""The engine's Store port on a live cluster: Canaries read from the apiserver, status written through the
status subresource with read-modify-write, retried on conflict (Flagger's retry.RetryOnConflict).

Inside `one_read()` (one analysis tick) a Canary is read from the API server once: later reads get a copy of
that answer, or of the object the tick last wrote, which is the API server's own answer to the write. A failed
write forgets it, so a retry after a conflict reads afresh. A tick otherwise asks for the same Canary four to six
times within milliseconds; what it decides is the same as if it had run a moment earlier, and a write based on a
copy another client has changed since is refused (409, the resourceVersion) and retried as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
from collections.abc import Iterator
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType
from pydantic import ValidationError

from serinus.api import Canary
from serinus.api.judge import JudgeStatus
from serinus.engine.ports import PortError, StatusChange
from serinus.kube.judgestate import JudgeConfigMaps, asks_for_judge, dump
from serinus.kube.resources import Canary as CanaryResource

CONFLICT_RETRIES = 5
#: the condition Serinus adds to a Canary whose spec cannot be used (Flagger only ever writes Promoted)
VALID = "Valid"


class InvalidCanary(PortError):
    """The stored Canary does not parse; the message names the field."""

    def __init__(self, message: str, raw: dict[str, Any]) -> None:
        super().__init__(message, retriable=False)
        self.raw = raw


def parse_canary(raw: dict[str, Any]) -> Canary:
    """A Canary model from the apiserver's JSON; InvalidCanary names the first bad field."""
    try:
        return Canary.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidCanary(f"invalid canary spec: {where}: {first['msg']}", raw) from None


#: the Canaries read (or written) in the current `one_read()` block: (namespace, name) -> JSON; None outside one
_READ: contextvars.ContextVar[dict[tuple[str, str], dict[str, Any]] | None] = contextvars.ContextVar(
    "serinus_canary_reads", default=None
)
#: the judge statuses kept beside the Canaries of the current `one_read()` block, as read or last written: (namespace,
#: name) -> status.judge (None: none kept); None outside one
_KEPT: contextvars.ContextVar[dict[tuple[str, str], JudgeStatus | None] | None] = contextvars.ContextVar(
    "serinus_judge_reads", default=None
)


class KubeStore:
    """Reads and writes Canaries on the cluster."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.judges = JudgeConfigMaps(client)

    @contextlib.contextmanager
    def one_read(self) -> Iterator[None]:
        """Within the block (one tick, in one task), read each Canary (and its kept judge status) from the API
        server at most once."""
        token = _READ.set({})
        kept = _KEPT.set({})
        try:
            yield
        finally:
            _KEPT.reset(kept)
            _READ.reset(token)

    @staticmethod
    def _remember(namespace: str, name: str, raw: dict[str, Any] | None) -> None:
        """Keep `raw` as the Canary's latest state in the current block (None: forget it)."""
        seen = _READ.get()
        if seen is None:
            return
        if raw is None:
            seen.pop((namespace, name), None)
        else:
            seen[(namespace, name)] = raw

    async def raw(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The Canary's JSON, or None when it is gone (a copy the caller may change)."""
        seen = _READ.get()
        if seen is not None and (namespace, name) in seen:
            return copy.deepcopy(seen[(namespace, name)])
        try:
            obj: Any = await self.client.get(CanaryResource, name, namespace=namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise PortError(f"canary {name}.{namespace} get query failed: {err.status.message}") from err
        raw: dict[str, Any] = obj.to_dict()
        if seen is not None:
            seen[(namespace, name)] = copy.deepcopy(raw)
        return raw

    async def get(self, name: str, namespace: str) -> Canary | None:
        """The Canary as stored now (with the judge status kept beside it, if any); InvalidCanary when its spec
        does not parse."""
        raw = await self.raw(name, namespace)
        return None if raw is None else await self._with_kept_judge(parse_canary(raw))

    async def _kept_judge(self, canary: Canary) -> JudgeStatus | None:
        """The judge status kept beside the Canary (read once per `one_read()` block)."""
        key = (canary.metadata.namespace or "", canary.metadata.name)
        seen = _KEPT.get()
        if seen is not None and key in seen:
            judge = seen[key]
            return judge.model_copy(deep=True) if judge is not None else None
        judge = await self.judges.read(canary)
        if seen is not None:
            seen[key] = judge.model_copy(deep=True) if judge is not None else None
        return judge

    async def _with_kept_judge(self, canary: Canary) -> Canary:
        """The Canary with status.judge from its ConfigMap when the status has none (a pruning schema) and the
        Canary asks for the judge; otherwise as it is (no read)."""
        if canary.status.judge is None and asks_for_judge(canary):
            canary.status.judge = await self._kept_judge(canary)
        return canary

    async def _keep_judge(self, written: Canary, sent: JudgeStatus | None, read: Canary, from_configmap: bool) -> None:
        """After a status write: when the API server dropped the status.judge just sent, keep it beside the Canary;
        when the status holds it (a schema that keeps it) or none was sent (a new run), clear what is kept.
        `read` is the Canary the change was made from; `from_configmap` says its status.judge came from the
        ConfigMap (else nothing was read from there)."""
        before = read.status.judge if from_configmap else None
        if written.status.judge is not None:
            wanted = None
            if before is None:
                return  # the usual case under Serinus's CRD: nothing kept, nothing to clear
        else:
            wanted = sent
            if (from_configmap and dump(before) == dump(wanted)) or (not from_configmap and wanted is None):
                return  # unchanged: a status write of Flagger's fields only
        await self.judges.write(written, wanted)
        seen = _KEPT.get()
        if seen is not None:
            key = (written.metadata.namespace or "", written.metadata.name)
            seen[key] = wanted.model_copy(deep=True) if wanted is not None else None

    async def set_validity(self, name: str, namespace: str, problem: str | None, now: str) -> None:
        """Write (problem given) or clear the `Valid` condition of a Canary that may not parse at all."""
        for attempt in range(CONFLICT_RETRIES):
            raw = await self.raw(name, namespace)
            if raw is None:
                return
            status = dict(raw.get("status") or {})
            others = [c for c in status.get("conditions") or [] if c.get("type") != VALID]
            current = next((c for c in status.get("conditions") or [] if c.get("type") == VALID), None)
            if problem is None and current is None:
                return
            if problem is not None and current is not None and current.get("message") == problem:
                return
            if problem is not None:
                others.append(
                    {
                        "type": VALID,
                        "status": "False",
                        "reason": "InvalidSpec",
                        "message": problem,
                        "lastUpdateTime": now,
                        "lastTransitionTime": now,
                    }
                )
            status["conditions"] = others
            raw["status"] = status
            self._remember(namespace, name, None)
            try:
                written: Any = await self.client.replace(
                    CanaryResource.Status.from_dict(raw), name, namespace=namespace
                )
                self._remember(namespace, name, written.to_dict())
                return
            except ApiError as err:
                if err.status.code == 409 and attempt + 1 < CONFLICT_RETRIES:
                    continue
                raise PortError(f"updating canary {name}.{namespace} status failed: {err.status.message}") from err

    async def set_finalizer(self, name: str, namespace: str, finalizer: str, present: bool) -> None:
        """Add or remove one finalizer (a merge patch carrying the resourceVersion, retried on conflict)."""
        for attempt in range(CONFLICT_RETRIES):
            raw = await self.raw(name, namespace)
            if raw is None:
                return
            meta = raw.get("metadata") or {}
            current = list(meta.get("finalizers") or [])
            wanted = [f for f in current if f != finalizer] + ([finalizer] if present else [])
            if sorted(wanted) == sorted(current):
                return
            patch = {"metadata": {"finalizers": wanted, "resourceVersion": meta.get("resourceVersion")}}
            self._remember(namespace, name, None)
            try:
                patched: Any = await self.client.patch(
                    CanaryResource, name, patch, namespace=namespace, patch_type=PatchType.MERGE
                )
                self._remember(namespace, name, patched.to_dict())
                return
            except ApiError as err:
                if err.status.code == 409 and attempt + 1 < CONFLICT_RETRIES:
                    continue
                if err.status.code == 404:
                    return
                raise PortError(f"canary {name}.{namespace} finalizer update failed: {err.status.message}") from err

    async def update_status(self, name: str, namespace: str, change: StatusChange) -> Canary:
        """Apply `change` to the current Canary and replace its status; re-read and retry on conflict."""
        for attempt in range(CONFLICT_RETRIES):
            raw = await self.raw(name, namespace)
            if raw is None:
                raise PortError(f"canary {name}.{namespace} get query failed: not found")
            canary = parse_canary(raw)
            # status.judge read from the ConfigMap (a pruning schema) rather than from the status
            from_configmap = canary.status.judge is None and asks_for_judge(canary)
            canary = await self._with_kept_judge(canary)
            status = change(canary)
            raw["status"] = status.model_dump(by_alias=True, exclude_none=True, mode="json")
            self._remember(namespace, name, None)
            try:
                written = await self.client.replace(CanaryResource.Status.from_dict(raw), name, namespace=namespace)
            except ApiError as err:
                if err.status.code == 409 and attempt + 1 < CONFLICT_RETRIES:
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise PortError(f"updating canary {name}.{namespace} status failed: {err.status.message}") from err
            answer = written.to_dict()
            self._remember(namespace, name, copy.deepcopy(answer))
            result = parse_canary(answer)
            if status.judge is not None or canary.status.judge is not None:
                await self._keep_judge(result, status.judge, canary, from_configmap)
                if result.status.judge is None:
                    result.status.judge = status.judge
            return result
        raise PortError(f"updating canary {name}.{namespace} status failed: conflict")  # pragma: no cover
