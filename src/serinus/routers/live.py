"""Live routers: any router module's `ROUTING` (routing.py) run on a cluster through lightkube.

`LiveRouter` is the engine's Router port for every provider: it hands the module's four steps a `Session` whose
`Objects` (`_Objects` here) read and write the provider's objects with Flagger's error texts. Session-affinity
cookies the builders produce are handed to `save_status`, which persists them on the Canary as Flagger's status
write does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.core.resource import NamespacedResource
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.core_v1 import Service
from lightkube.resources.networking_v1 import Ingress
from lightkube.types import PatchType

from serinus.api.capabilities import MESH_PROVIDERS
from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers.routing import ApiKind, Objects, RouterOptions, Routing, SaveStatus, Session, load

Obj = Mapping[str, Any]
#: Built-in kinds keep lightkube's typed models, as the Services and Ingresses the rest of Serinus reads.
_TYPED: dict[tuple[str, str], Any] = {("v1", "Service"): Service, ("networking.k8s.io/v1", "Ingress"): Ingress}


def _resource(kind: ApiKind) -> Any:
    """The lightkube resource of an API kind."""
    if (kind.api_version, kind.kind) in _TYPED:
        return _TYPED[(kind.api_version, kind.kind)]
    group, version = kind.api_version.split("/")
    create = create_namespaced_resource if kind.namespaced else create_global_resource
    return create(group, version, kind.kind, kind.plural)


#: (apiVersion, kind) -> lightkube resource, for every kind a router module declares in its ROUTING.
RESOURCES: dict[tuple[str, str], Any] = {
    (kind.api_version, kind.kind): _resource(kind)
    for provider in MESH_PROVIDERS
    if provider.implementation is not None
    for kind in load(provider).kinds
}


class _Objects:
    """Objects on a cluster: get, create and replace the provider objects of one Canary's namespace."""

    def __init__(self, client: AsyncClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    @staticmethod
    def _resource(obj: Obj) -> Any:
        return RESOURCES[(str(obj["apiVersion"]), str(obj["kind"]))]

    def _ns(self, obj: Obj) -> str | None:
        """The namespace to address `obj` in: none for a cluster-scoped kind (Kuma's TrafficRoute)."""
        return self.namespace if issubclass(self._resource(obj), NamespacedResource) else None

    async def get(self, like: Obj) -> dict[str, Any] | None:
        """The live object with the name and kind of `like`, or None."""
        try:
            got: Any = await self.client.get(self._resource(like), like["metadata"]["name"], namespace=self._ns(like))
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise RouterError(
                f"{like['kind']} {like['metadata']['name']}.{self.namespace} query error: {err.status.message}"
            ) from err
        out: dict[str, Any] = got.to_dict()
        return out

    async def create(self, obj: Obj) -> None:
        """Create an object."""
        try:
            await self.client.create(self._resource(obj).from_dict(dict(obj)))
        except ApiError as err:
            raise RouterError(
                f"{obj['kind']} {obj['metadata']['name']}.{self.namespace} create error: {err.status.message}"
            ) from err

    async def replace(self, obj: Obj) -> None:
        """Replace an object (its resourceVersion guards against lost updates)."""
        try:
            await self.client.replace(self._resource(obj).from_dict(dict(obj)))
        except ApiError as err:
            raise RouterError(
                f"{obj['kind']} {obj['metadata']['name']}.{self.namespace} update error: {err.status.message}"
            ) from err

    async def patch(self, like: Obj, patch: Obj) -> None:
        """A JSON merge patch."""
        try:
            await self.client.patch(
                self._resource(like),
                like["metadata"]["name"],
                dict(patch),
                namespace=self._ns(like),
                patch_type=PatchType.MERGE,
            )
        except ApiError as err:
            raise RouterError(
                f"{like['kind']} {like['metadata']['name']}.{self.namespace} spec patch error: {err.status.message}"
            ) from err

    async def delete(self, like: Obj) -> None:
        """Delete an object if it exists."""
        try:
            await self.client.delete(self._resource(like), like["metadata"]["name"], namespace=self._ns(like))
        except ApiError as err:
            if err.status.code != 404:
                raise RouterError(
                    f"ingress {like['metadata']['name']}.{self.namespace} unable to remove: {err.status.message}"
                ) from err

    async def must_get(self, like: Obj) -> dict[str, Any]:
        """The live object, or Flagger's not-found error."""
        got = await self.get(like)
        if got is None:
            raise RouterError(f"{like['kind']} {like['metadata']['name']}.{self.namespace} query error: not found")
        return got

    def elsewhere(self, namespace: str) -> Objects:
        """The same client, in another namespace."""
        return _Objects(self.client, namespace)


class LiveRouter:
    """The engine's Router port for one Canary: its router module's ROUTING, run on the cluster."""

    def __init__(
        self, client: AsyncClient, canary: Obj, save_status: SaveStatus, routing: Routing, options: RouterOptions
    ) -> None:
        namespace = str((canary.get("metadata") or {}).get("namespace") or "default")
        self.routing = routing
        self.session = Session(_Objects(client, namespace), canary, options, save_status)

    async def reconcile(self) -> None:
        """Create or take over the routing objects; bring what Serinus owns back in line."""
        await self.routing.reconcile(self.session)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Route `primary`% and `canary`% of traffic (mirrored where the router can)."""
        await self.routing.set_routes(self.session, primary, canary, mirrored)

    async def get_routes(self) -> Routes:
        """The weights and mirror flag the routing objects hold now."""
        return await self.routing.get_routes(self.session)

    async def finalize(self) -> None:
        """revertOnDeletion: restore what the user had, where the router does."""
        await self.routing.finalize(self.session)
