"""The Actions port on a cluster: CanaryAction objects, listed each step and settled through their status."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType

from serinus.api import Canary
from serinus.engine.actions import Action, parse_action
from serinus.engine.ports import PortError
from serinus.kube.client import FIELD_MANAGER
from serinus.kube.ledger import plain, why
from serinus.kube.resources import CanaryAction

log = logging.getLogger("serinus.actions")


class KubeActions:
    """Lists a Canary's CanaryActions (one list of the namespace per step) and settles one with a merge patch of
    its status that carries the resourceVersion it was listed at: a second writer gets 409 and applies nothing."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._versions: dict[tuple[str, str], str] = {}
        self._missing = False

    async def of(self, canary: Canary) -> list[Action]:
        """The Canary's actions, settled ones included; none when the CanaryAction CRD is not installed."""
        namespace, name = canary.metadata.namespace or "default", canary.metadata.name or ""
        found: list[Action] = []
        try:
            async for obj in self.client.list(CanaryAction, namespace=namespace):
                doc = plain(obj)
                action = parse_action(doc)
                if action is None or action.canary != name or (doc.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                self._versions[(namespace, action.name)] = str(doc["metadata"].get("resourceVersion") or "")
                found.append(action)
        except httpx2.HTTPError as err:
            if not isinstance(err, httpx2.HTTPStatusError) or err.response.status_code != 404:
                raise PortError(f"CanaryActions of {name}.{namespace}: {why(err)}") from None
            # a bare 404 page: the CanaryAction CRD is not installed; releases go on without actions
            if not self._missing:
                log.warning("CanaryAction CRD not installed: actions are ignored until it is (deploy/crds/crds.yaml)")
            self._missing = True
            return []
        return found

    async def settle(self, action: Action, outcome: str, message: str) -> bool:
        """status.phase, message and settledAt, guarded by the resourceVersion the action was listed at."""
        version = self._versions.pop((action.namespace, action.name), "")
        body: dict[str, Any] = {
            "status": {
                "phase": outcome,
                "message": message,
                "settledAt": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        }
        if version:
            body["metadata"] = {"resourceVersion": version}
        try:
            await self.client.patch(
                CanaryAction.Status,
                action.name,
                body,
                namespace=action.namespace,
                patch_type=PatchType.MERGE,
                field_manager=FIELD_MANAGER,
            )
        except ApiError as err:
            if err.status.code in (404, 409):  # deleted, or changed (settled) since it was listed
                log.info("CanaryAction %s.%s not settled: %s", action.name, action.namespace, err.status.message)
                return False
            raise PortError(f"settling CanaryAction {action.name}.{action.namespace}: {why(err)}") from None
        except httpx2.HTTPError as err:
            raise PortError(f"settling CanaryAction {action.name}.{action.namespace}: {why(err)}") from None
        return True
