"""The engine's Store port on a live cluster: Canaries read from the apiserver, status written through the
status subresource with read-modify-write, retried on conflict (Flagger's retry.RetryOnConflict)."""

from __future__ import annotations

import asyncio
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType
from pydantic import ValidationError

from serinus.api import Canary
from serinus.engine.ports import PortError, StatusChange
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


class KubeStore:
    """Reads and writes Canaries on the cluster."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def raw(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The Canary's JSON, or None when it is gone."""
        try:
            obj: Any = await self.client.get(CanaryResource, name, namespace=namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise PortError(f"canary {name}.{namespace} get query failed: {err.status.message}") from err
        return obj.to_dict()  # type: ignore[no-any-return]

    async def get(self, name: str, namespace: str) -> Canary | None:
        """The Canary as stored now; InvalidCanary when its spec does not parse."""
        raw = await self.raw(name, namespace)
        return None if raw is None else parse_canary(raw)

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
            try:
                await self.client.replace(CanaryResource.Status.from_dict(raw), name, namespace=namespace)
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
            try:
                await self.client.patch(CanaryResource, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
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
            status = change(canary)
            raw["status"] = status.model_dump(by_alias=True, exclude_none=True, mode="json")
            try:
                written = await self.client.replace(CanaryResource.Status.from_dict(raw), name, namespace=namespace)
            except ApiError as err:
                if err.status.code == 409 and attempt + 1 < CONFLICT_RETRIES:
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise PortError(f"updating canary {name}.{namespace} status failed: {err.status.message}") from err
            return parse_canary(written.to_dict())
        raise PortError(f"updating canary {name}.{namespace} status failed: conflict")  # pragma: no cover
