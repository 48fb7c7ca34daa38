"""A Knative Service as the target (Flagger's pkg/canary/knative_controller.go KnativeController).

There is no primary workload: the primary is the Knative revision named in the Service's annotation
`flagger.app/primary-revision`, and the canary is the latest created revision. Change detection hashes the latest
created revision's name; readiness is the Ready condition of the revision in question; scaling and config tracking
do not apply (Knative scales revisions itself).
"""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource

from serinus.api import Canary, CanaryPhase
from serinus.engine.ports import READY, Readiness
from serinus.targets.controller import TargetError

KnativeService = create_namespaced_resource("serving.knative.dev", "v1", "Service", "services")
Revision = create_namespaced_resource("serving.knative.dev", "v1", "Revision", "revisions")
PRIMARY_REVISION = "flagger.app/primary-revision"


def _is_ready(revision: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in ((revision.get("status") or {}).get("conditions") or [])
    )


class KnativeTarget:
    """The Knative Service of one Canary."""

    def __init__(self, client: AsyncClient, canary: Canary) -> None:
        self.client = client
        self.canary = canary
        self.namespace = canary.metadata.namespace or "default"
        self.name = canary.spec.target_ref.name

    async def service(self) -> dict[str, Any]:
        """The Knative Service, or Flagger's error."""
        try:
            found: Any = await self.client.get(KnativeService, self.name, namespace=self.namespace)
        except ApiError as err:
            raise TargetError(
                f"Knative Service {self.name}.{self.namespace} get query error: {err.status.message}"
            ) from err
        return dict(found.to_dict())

    async def _replace(self, service: dict[str, Any]) -> None:
        try:
            await self.client.replace(KnativeService.from_dict(service))
        except ApiError as err:
            raise TargetError(
                f"Knative Service {self.name}.{self.namespace} update query error {err.status.message}"
            ) from err

    async def _revision_ready(self, name: str) -> Readiness:
        try:
            revision: Any = await self.client.get(Revision, name, namespace=self.namespace)
        except ApiError as err:
            return Readiness(
                False, True, f"Knative Revision {name}.{self.namespace} get query error: {err.status.message}"
            )
        if not _is_ready(revision.to_dict()):
            return Readiness(False, True, f"Knative Revision {name}.{self.namespace} is not ready")
        return READY

    async def metadata(self) -> tuple[str, str, dict[str, int]]:
        """No selector label and no ports: Knative routes by revision."""
        return "", "", {}

    async def spec_for_hash(self) -> object:
        """The latest created revision's name: a new revision is a new release."""
        return ((await self.service()).get("status") or {}).get("latestCreatedRevisionName", "")

    async def revisions(self) -> tuple[str, str]:
        """(the latest created revision, the primary revision), read from the Service once: the metrics' `route`
        for the canary and for the primary."""
        service = await self.service()
        latest = (service.get("status") or {}).get("latestCreatedRevisionName", "")
        primary = ((service.get("metadata") or {}).get("annotations") or {}).get(PRIMARY_REVISION, "")
        return str(latest), str(primary)

    async def tracked_configs(self) -> dict[str, str] | None:
        """Knative revisions capture their configuration; nothing to track."""
        return None

    async def initialize(self) -> None:
        """On a new Canary: the latest created revision becomes the primary and gets all traffic."""
        if self.canary.status.phase not in (None, CanaryPhase.UNSET, CanaryPhase.INITIALIZING):
            return
        service = await self.service()
        latest = (service.get("status") or {}).get("latestCreatedRevisionName", "")
        service.setdefault("metadata", {}).setdefault("annotations", {})[PRIMARY_REVISION] = latest
        service.setdefault("spec", {})["traffic"] = [
            {"latestRevision": True, "percent": 0},
            {"revisionName": latest, "percent": 100},
        ]
        await self._replace(service)

    async def primary_readiness(self) -> Readiness:
        """The primary revision is Ready."""
        annotations = (await self.service()).get("metadata", {}).get("annotations") or {}
        if PRIMARY_REVISION not in annotations:
            return Readiness(
                False, True, f"Knative Service {self.name}.{self.namespace} primary revision annotation not found"
            )
        return await self._revision_ready(annotations[PRIMARY_REVISION])

    async def canary_readiness(self) -> Readiness:
        """The latest created revision is Ready."""
        latest = ((await self.service()).get("status") or {}).get("latestCreatedRevisionName", "")
        return await self._revision_ready(latest)

    async def promote(self) -> None:
        """The latest created revision becomes the primary."""
        service = await self.service()
        latest = (service.get("status") or {}).get("latestCreatedRevisionName", "")
        service.setdefault("metadata", {}).setdefault("annotations", {})[PRIMARY_REVISION] = latest
        await self._replace(service)

    async def restore_primary(self) -> bool:
        """Not kept for Knative: the primary revision only changes once the promoted one is Ready."""
        return False

    async def primary_restored(self) -> bool:
        """Never restored."""
        return False

    async def scale_to_zero(self) -> None:
        """Knative scales revisions itself."""

    async def scale_from_zero(self) -> None:
        """Knative scales revisions itself."""

    async def finalize(self) -> None:
        """Nothing to give back."""


class NoServices:
    """Knative targets need no primary/canary/apex Services (Flagger's KubernetesNoopRouter)."""

    async def initialize(self) -> None:
        """Nothing to create."""

    async def reconcile(self) -> None:
        """Nothing to reconcile."""

    async def finalize(self) -> None:
        """Nothing to revert."""
