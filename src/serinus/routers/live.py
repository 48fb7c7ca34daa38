"""Live routers: the pure builders of each provider (Istio, Gateway API, SMI, NGINX, Skipper, ...) on a cluster.

Each router takes over or creates its objects on reconcile, rewrites the routes on set_routes, reads weights back
on get_routes and restores what the user had on finalize, exactly through the functions in istio.py and
gatewayapi.py. Session-affinity cookies the builders produce are handed to `save_status`, which persists them
on the Canary as Flagger's status write does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.core.resource import NamespacedResource
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.core_v1 import Service
from lightkube.resources.networking_v1 import Ingress
from lightkube.types import PatchType

from serinus.engine.ports import Routes
from serinus.errors import RouterError
from serinus.routers import (
    apisix,
    appmesh,
    contour,
    gatewayapi,
    gloo,
    istio,
    knative,
    kuma,
    nginx,
    skipper,
    smi,
    traefik,
)
from serinus.routers.gatewayapi_spec import Version, http_route
from serinus.routers.istio_spec import desired as istio_desired
from serinus.routers.kubernetes import canary_owner_reference, service_names

log = logging.getLogger("serinus.canary")
Obj = Mapping[str, Any]
SaveStatus = Callable[[dict[str, str]], Awaitable[None]]

RESOURCES: dict[tuple[str, str], Any] = {
    ("networking.istio.io/v1beta1", "VirtualService"): create_namespaced_resource(
        "networking.istio.io", "v1beta1", "VirtualService", "virtualservices"
    ),
    ("networking.istio.io/v1beta1", "DestinationRule"): create_namespaced_resource(
        "networking.istio.io", "v1beta1", "DestinationRule", "destinationrules"
    ),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): create_namespaced_resource(
        "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"
    ),
    ("gateway.networking.k8s.io/v1beta1", "HTTPRoute"): create_namespaced_resource(
        "gateway.networking.k8s.io", "v1beta1", "HTTPRoute", "httproutes"
    ),
    ("networking.k8s.io/v1", "Ingress"): Ingress,
    ("projectcontour.io/v1", "HTTPProxy"): create_namespaced_resource(
        "projectcontour.io", "v1", "HTTPProxy", "httpproxies"
    ),
    ("traefik.io/v1alpha1", "TraefikService"): create_namespaced_resource(
        "traefik.io", "v1alpha1", "TraefikService", "traefikservices"
    ),
    ("kuma.io/v1alpha1", "TrafficRoute"): create_global_resource(
        "kuma.io", "v1alpha1", "TrafficRoute", "trafficroutes"
    ),
    ("apisix.apache.org/v2", "ApisixRoute"): create_namespaced_resource(
        "apisix.apache.org", "v2", "ApisixRoute", "apisixroutes"
    ),
    ("gateway.solo.io/v1", "RouteTable"): create_namespaced_resource(
        "gateway.solo.io", "v1", "RouteTable", "routetables"
    ),
    ("gloo.solo.io/v1", "Upstream"): create_namespaced_resource("gloo.solo.io", "v1", "Upstream", "upstreams"),
    ("v1", "Service"): Service,
    ("serving.knative.dev/v1", "Service"): create_namespaced_resource(
        "serving.knative.dev", "v1", "Service", "services"
    ),
    **{
        ("appmesh.k8s.aws/v1beta2", kind): create_namespaced_resource("appmesh.k8s.aws", "v1beta2", kind, plural)
        for kind, plural in (
            ("VirtualNode", "virtualnodes"),
            ("VirtualRouter", "virtualrouters"),
            ("VirtualService", "virtualservices"),
        )
    },
    **{
        (f"split.smi-spec.io/{v}", "TrafficSplit"): create_namespaced_resource(
            "split.smi-spec.io", v, "TrafficSplit", "trafficsplits"
        )
        for v in ("v1alpha1", "v1alpha2", "v1alpha3")
    },
}


class _Objects:
    """Get, create and replace the provider objects of one Canary's namespace."""

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
        return got.to_dict()  # type: ignore[no-any-return]

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


class _Router:
    """What Istio and Gateway API share: reconcile their desired objects, route through one main object."""

    def __init__(self, client: AsyncClient, canary: Obj, save_status: SaveStatus) -> None:
        self.canary = canary
        self.objects = _Objects(client, str((canary.get("metadata") or {}).get("namespace") or "default"))
        self.save_status = save_status

    def desired(self) -> list[dict[str, Any]]:
        """The objects as they should be; the last one carries the routes."""
        raise NotImplementedError

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """`existing` brought in line with `desired`, or None."""
        raise NotImplementedError

    async def reconcile(self) -> None:
        """Create what is missing; bring what Serinus owns back in line (user keys and weights kept)."""
        for obj in self.desired():
            existing = await self.objects.get(obj)
            if existing is None:
                await self.objects.create(obj)
                continue
            fixed = self.reconciled(existing, obj)
            if fixed is not None:
                await self.objects.replace(fixed)

    async def _route_object(self) -> dict[str, Any]:
        return await self.objects.must_get(self.desired()[-1])


class IstioRouter(_Router):
    """Istio: DestinationRules for primary and canary, and the VirtualService that splits traffic."""

    def desired(self) -> list[dict[str, Any]]:
        """Both DestinationRules, then the VirtualService."""
        return istio_desired(self.canary)

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """Istio's reconcile rules (takeover saves the original configuration)."""
        return istio.reconciled(existing, desired, self.canary)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Rewrite the VirtualService's routes; persist session-affinity cookies."""
        routed, cookies = istio.set_routes(await self._route_object(), self.canary, primary, canary, mirrored)
        await self.objects.replace(routed)
        if cookies:
            await self.save_status(cookies)

    async def get_routes(self) -> Routes:
        """The weights and mirror flag the VirtualService holds."""
        return Routes(*istio.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """revertOnDeletion: restore the VirtualService the user had."""
        existing = await self.objects.get(self.desired()[-1])
        if existing is None:
            return
        reverted = istio.reverted(existing, self.canary)
        if reverted is None:
            log.warning(istio.revert_missing_message(self.canary))
            return
        await self.objects.replace(reverted)


class GatewayRouter(_Router):
    """Gateway API: the HTTPRoute `<apex>` with weighted backendRefs (v1 or v1beta1)."""

    def __init__(self, client: AsyncClient, canary: Obj, save_status: SaveStatus, version: Version) -> None:
        super().__init__(client, canary, save_status)
        self.version: Version = version

    def desired(self) -> list[dict[str, Any]]:
        """The HTTPRoute."""
        return [http_route(self.canary, self.version)]

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """Gateway API's reconcile rules."""
        return gatewayapi.reconciled(existing, desired, self.canary)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """Rewrite the HTTPRoute's rules; persist session-affinity cookies."""
        routed, cookies = gatewayapi.set_routes(await self._route_object(), self.canary, primary, canary, mirrored)
        await self.objects.replace(routed)
        if cookies:
            await self.save_status(cookies)

    async def get_routes(self) -> Routes:
        """The weights the HTTPRoute holds (an error while a parent has not accepted it)."""
        return Routes(*gatewayapi.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class SmiRouter(_Router):
    """linkerd, osm and smi:*: the TrafficSplit `<apex>` between the primary and canary Services."""

    def __init__(self, client: AsyncClient, canary: Obj, save_status: SaveStatus, provider: str) -> None:
        super().__init__(client, canary, save_status)
        self.provider = provider

    def desired(self) -> list[dict[str, Any]]:
        """The TrafficSplit, owned by the Canary."""
        return [smi.traffic_split(self.canary, self.provider, canary_owner_reference(self.canary))]

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """SMI's reconcile rules (weights in flight kept)."""
        return smi.reconciled(existing, desired)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """New weights on the TrafficSplit."""
        await self.objects.replace(smi.set_routes(await self._route_object(), self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The TrafficSplit's weights."""
        return Routes(*smi.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class NginxRouter(_Router):
    """nginx: the `<ingress>-canary` Ingress beside the user's, steered by nginx's canary annotations."""

    def __init__(self, client: AsyncClient, canary: Obj, save_status: SaveStatus, prefix: str) -> None:
        super().__init__(client, canary, save_status)
        self.prefix = prefix

    def _user_ingress(self) -> dict[str, Any]:
        name = ((self.canary.get("spec") or {}).get("ingressRef") or {}).get("name") or ""
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}}

    def _canary_ingress(self) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": nginx.canary_ingress_name(self.canary)},
        }

    async def reconcile(self) -> None:
        """Create `<ingress>-canary` from the user's Ingress, or bring its spec back in line."""
        user = await self.objects.must_get(self._user_ingress())
        existing = await self.objects.get(self._canary_ingress())
        if existing is None:
            await self.objects.create(
                nginx.new_canary_ingress(user, self.canary, canary_owner_reference(self.canary), self.prefix)
            )
            return
        fixed = nginx.reconciled_canary_ingress(existing, user, self.canary)
        if fixed is not None:
            await self.objects.replace(fixed)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The canary weight (or A/B header and cookie rules) on the canary Ingress."""
        current = await self.objects.must_get(self._canary_ingress())
        await self.objects.replace(nginx.set_routes(current, self.canary, canary, self.prefix))

    async def get_routes(self) -> Routes:
        """The weights the canary Ingress routes."""
        return Routes(*nginx.get_routes(await self.objects.must_get(self._canary_ingress()), self.canary, self.prefix))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class TraefikRouter(_Router):
    """traefik: the TraefikService `<apex>` the user's IngressRoute points at."""

    def desired(self) -> list[dict[str, Any]]:
        """The TraefikService."""
        return [traefik.traffic_service(self.canary)]

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """Traefik's reconcile rules."""
        return traefik.reconciled(existing, self.canary)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The weighted services."""
        await self.objects.replace(traefik.set_routes(await self._route_object(), self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The primary's weight and the rest for the canary."""
        return Routes(*traefik.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class ContourRouter(_Router):
    """contour: the HTTPProxy `<apex>` the user's root proxy includes."""

    def __init__(self, client: AsyncClient, canary: Obj, save_status: SaveStatus, ingress_class: str) -> None:
        super().__init__(client, canary, save_status)
        self.ingress_class = ingress_class

    def desired(self) -> list[dict[str, Any]]:
        """The HTTPProxy."""
        return [contour.http_proxy(self.canary, self.ingress_class)]

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """Contour's reconcile rules."""
        return contour.reconciled(existing, self.canary, self.ingress_class)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The weighted route (and the A/B route)."""
        await self.objects.replace(
            contour.set_routes(await self._route_object(), self.canary, primary, canary, self.ingress_class)
        )

    async def get_routes(self) -> Routes:
        """The first route's weights."""
        return Routes(*contour.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class SkipperRouter(_Router):
    """skipper: the `<ingress>-canary` Ingress with both backends and Skipper's weights."""

    def _ingress(self, name: str) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}}

    async def reconcile(self) -> None:
        """Create the canary Ingress from the user's, or bring its spec back in line."""
        user_name, canary_name = skipper.ingress_names(self.canary)
        user = await self.objects.must_get(self._ingress(user_name))
        existing = await self.objects.get(self._ingress(canary_name))
        if existing is None:
            await self.objects.create(skipper.new_canary_ingress(user, self.canary))
            return
        fixed = skipper.reconciled(existing, user, self.canary)
        if fixed is not None:
            await self.objects.replace(fixed)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """New backend weights."""
        current = await self.objects.must_get(self._ingress(skipper.ingress_names(self.canary)[1]))
        await self.objects.replace(skipper.set_routes(current, self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The backend weights."""
        current = await self.objects.must_get(self._ingress(skipper.ingress_names(self.canary)[1]))
        return Routes(*skipper.get_routes(current, self.canary))

    async def finalize(self) -> None:
        """revertOnDeletion: delete the canary Ingress, leaving the user's alone."""
        await self.objects.delete(self._ingress(skipper.ingress_names(self.canary)[1]))


class KumaRouter(_Router):
    """kuma: the cluster-scoped TrafficRoute `<apex>` splitting between the primary and canary Kuma services."""

    def desired(self) -> list[dict[str, Any]]:
        """The TrafficRoute."""
        return [kuma.traffic_route(self.canary)]

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """Kuma's reconcile rules."""
        return kuma.reconciled(existing, self.canary)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The new split."""
        await self.objects.replace(kuma.set_routes(await self._route_object(), self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The primary's split and the rest for the canary."""
        return Routes(*kuma.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class ApisixRouter(_Router):
    """apisix: the `<route>-<apex>-canary` ApisixRoute beside the user's."""

    def _route(self, name: str) -> dict[str, Any]:
        return {"apiVersion": apisix.API_VERSION, "kind": "ApisixRoute", "metadata": {"name": name}}

    async def reconcile(self) -> None:
        """Create the canary route from the user's, or bring it back in line with it."""
        user_name = apisix.route_ref(self.canary)
        user = await self.objects.get(self._route(user_name))
        if user is None:
            raise RouterError(f"APISIX route {user_name}.{self.objects.namespace} get query error: not found")
        existing = await self.objects.get(self._route(apisix.canary_route_name(self.canary)))
        if existing is None:
            await self.objects.create(apisix.new_canary_route(user, self.canary))
            return
        fixed = apisix.reconciled(existing, user, self.canary)
        if fixed is not None:
            await self.objects.replace(fixed)

    async def _canary_route(self) -> dict[str, Any]:
        return await self.objects.must_get(self._route(apisix.canary_route_name(self.canary)))

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The two backend weights."""
        await self.objects.replace(apisix.set_routes(await self._canary_route(), self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The primary backend's weight and the rest for the canary."""
        return Routes(*apisix.get_routes(await self._canary_route(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class GlooRouter(_Router):
    """gloo: Upstreams for the primary and canary Services and the RouteTable `<apex>` between them."""

    def __init__(
        self, client: AsyncClient, canary: Obj, save_status: SaveStatus, include_label_prefixes: tuple[str, ...]
    ) -> None:
        super().__init__(client, canary, save_status)
        self.include_label_prefixes = include_label_prefixes

    def desired(self) -> list[dict[str, Any]]:
        """The RouteTable."""
        return [gloo.route_table(self.canary)]

    def reconciled(self, existing: Obj, desired: Obj) -> dict[str, Any] | None:
        """Gloo's RouteTable reconcile rules."""
        return gloo.reconciled(existing, self.canary)

    async def _config_upstream(self) -> dict[str, Any] | None:
        ref = (self.canary.get("spec") or {}).get("upstreamRef")
        if not ref:
            return None
        like = {"apiVersion": gloo.GLOO_API, "kind": "Upstream", "metadata": {"name": ref.get("name")}}
        objects = _Objects(self.objects.client, ref.get("namespace") or self.objects.namespace)
        found = await objects.get(like)
        if found is None:
            raise RouterError(f"config upstream {ref.get('name')}.{self.objects.namespace} get query error: not found")
        return found

    async def reconcile(self) -> None:
        """The two Upstreams (created from the Services, load-balancer config kept in line), then the RouteTable."""
        config = await self._config_upstream()
        _, primary_svc, canary_svc = service_names(self.canary)
        for name, svc in zip(gloo.upstream_names(self.canary), (primary_svc, canary_svc), strict=True):
            like = {"apiVersion": gloo.GLOO_API, "kind": "Upstream", "metadata": {"name": name}}
            existing = await self.objects.get(like)
            if existing is not None:
                patch = gloo.upstream_drift(existing, config)
                if patch is not None:
                    await self.objects.patch(like, patch)
                continue
            service = await self.objects.must_get({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc}})
            selector = (service.get("spec") or {}).get("selector") or {}
            await self.objects.create(
                gloo.upstream(self.canary, name, svc, selector, config, self.include_label_prefixes)
            )
        await super().reconcile()

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The weighted destinations (the A/B matchers stay on the route)."""
        await self.objects.replace(gloo.set_routes(await self._route_object(), self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The primary destination's weight and the rest for the canary."""
        return Routes(*gloo.get_routes(await self._route_object(), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class AppMeshRouter(_Router):
    """appmesh:v1beta2: VirtualNodes for primary and canary, VirtualRouters and VirtualServices for the apex and
    the canary."""

    def __init__(self, client: AsyncClient, canary: Obj, save_status: SaveStatus, label: str) -> None:
        super().__init__(client, canary, save_status)
        self.label = label

    def _apex_router(self) -> dict[str, Any]:
        return appmesh.routers(self.canary)[0][0]

    async def reconcile(self) -> None:
        """Nodes created or brought in line; each router created with its service, or brought in line with its
        weights kept."""
        for node in appmesh.virtual_nodes(self.canary, self.label):
            existing = await self.objects.get(node)
            if existing is None:
                await self.objects.create(node)
            elif (fixed := appmesh.node_reconciled(existing, node)) is not None:
                await self.objects.replace(fixed)
        for router, service in appmesh.routers(self.canary):
            existing = await self.objects.get(router)
            if existing is None:
                await self.objects.create(router)
                await self.objects.create(service)
            elif (fixed := appmesh.router_reconciled(existing, router)) is not None:
                await self.objects.replace(fixed)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The apex router's weighted targets."""
        current = await self.objects.must_get(self._apex_router())
        await self.objects.replace(appmesh.set_routes(current, self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The apex router's weights."""
        return Routes(*appmesh.get_routes(await self.objects.must_get(self._apex_router()), self.canary))

    async def finalize(self) -> None:
        """Nothing to revert, as in Flagger."""


class KnativeRouter(_Router):
    """knative: the traffic block of the Knative Service that is the target."""

    def _service(self) -> dict[str, Any]:
        name = ((self.canary.get("spec") or {}).get("targetRef") or {}).get("name", "")
        return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name}}

    async def reconcile(self) -> None:
        """Pin the primary revision (the latest created one) when it is not pinned yet."""
        fixed = knative.annotated(await self.objects.must_get(self._service()))
        if fixed is not None:
            await self.objects.replace(fixed)

    async def set_routes(self, primary: int, canary: int, mirrored: bool) -> None:
        """The Service's traffic split."""
        current = await self.objects.must_get(self._service())
        await self.objects.replace(knative.set_routes(current, self.canary, primary, canary))

    async def get_routes(self) -> Routes:
        """The split Knative reports."""
        return Routes(*knative.get_routes(await self.objects.must_get(self._service()), self.canary))

    async def finalize(self) -> None:
        """revertOnDeletion: drop the primary-revision annotation."""
        current = await self.objects.get(self._service())
        if current is not None and (fixed := knative.reverted(current)) is not None:
            await self.objects.replace(fixed)
