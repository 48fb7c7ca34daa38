"""What a router module declares so the operator can drive it: its `ROUTING`.

Each router module (`istio.py`, `nginx.py`, ...) keeps its pure builders on plain dicts and ends with one `ROUTING`
value: the API kinds it reads and writes, and its four steps of the engine's Router port (`reconcile`, `set_routes`,
`get_routes`, `finalize`) written against `Objects`, a small port onto the cluster. `live.py` runs any `ROUTING` on
a lightkube client; `registry.py` finds the module through serinus.api.capabilities.MESH_PROVIDERS. Nothing here
talks to a cluster, so a router module stays testable on dicts.

Most routers have one of two shapes, which `routes_on` and `managed` build:

- the objects are desired in full and reconciled field by field, and the last one carries the routes (`managed`);
- the object that carries the routes is read, rewritten by a pure function and replaced (`routes_on`).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from serinus.api.capabilities import MeshProvider
from serinus.engine.ports import Routes

Obj = Mapping[str, Any]
SaveStatus = Callable[[dict[str, str]], Awaitable[None]]


class Objects(Protocol):
    """Get, create, replace, patch and delete the provider objects of one Canary's namespace, with Flagger's errors.

    An object is named by a dict with its `apiVersion`, `kind` and `metadata.name`; every kind a router uses must be
    in its `Routing.kinds`."""

    namespace: str

    async def get(self, like: Obj) -> dict[str, Any] | None:
        """The live object with the name and kind of `like`, or None."""

    async def must_get(self, like: Obj) -> dict[str, Any]:
        """The live object, or Flagger's not-found error."""

    async def create(self, obj: Obj) -> None:
        """Create an object."""

    async def replace(self, obj: Obj) -> None:
        """Replace an object (its resourceVersion guards against lost updates)."""

    async def patch(self, like: Obj, patch: Obj) -> None:
        """A JSON merge patch."""

    async def delete(self, like: Obj) -> None:
        """Delete an object if it exists."""

    def elsewhere(self, namespace: str) -> Objects:
        """The same, in another namespace."""


@dataclass(frozen=True)
class RouterOptions:
    """What a router may need beyond the Canary: the provider string and the operator's flags."""

    #: the router kind (serinus.api.capabilities.Router value) the provider string selected
    kind: str
    #: the provider string as given (SMI reads its API version from it)
    provider: str
    #: the operator's --selector-labels match (App Mesh's pod selector)
    label: str = "app"
    #: the operator's --ingress-annotations-prefix (nginx)
    ingress_prefix: str = "nginx.ingress.kubernetes.io"
    #: the operator's --ingress-class (contour)
    ingress_class: str = ""
    #: the operator's --include-label-prefix (labels copied onto Gloo upstreams)
    include_label_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """One Canary's router at work: its objects, the Canary (as a dict), the options, and where session-affinity
    cookies are persisted (as Flagger's status write does)."""

    objects: Objects
    canary: Obj
    options: RouterOptions
    save_status: SaveStatus


@dataclass(frozen=True)
class ApiKind:
    """One API kind a router reads or writes, as the API server serves it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True


Step = Callable[[Session], Awaitable[None]]
#: (session, current route object, primary, canary, mirrored) -> the object to write, and cookies to persist
SetRoutes = Callable[[Session, dict[str, Any], int, int, bool], tuple[dict[str, Any], dict[str, str]]]
#: (session, current route object) -> the weights it holds
GetRoutes = Callable[[Session, dict[str, Any]], Routes]
#: (session) -> the name and kind of the object that carries the routes
RouteObject = Callable[[Session], dict[str, Any]]


@dataclass(frozen=True)
class Routing:
    """A router, declared: the kinds it uses and its four steps of the engine's Router port."""

    kinds: tuple[ApiKind, ...]
    reconcile: Step
    set_routes: Callable[[Session, int, int, bool], Awaitable[None]]
    get_routes: Callable[[Session], Awaitable[Routes]]
    finalize: Step


async def nothing(_: Session) -> None:
    """A step with nothing to do (most routers revert nothing, as in Flagger)."""


def routes_on(
    *,
    kinds: tuple[ApiKind, ...],
    route_object: RouteObject,
    set_routes: SetRoutes,
    get_routes: GetRoutes,
    reconcile: Step,
    finalize: Step = nothing,
) -> Routing:
    """A router whose routes live on one object: set_routes reads it (Flagger's not-found error when it is missing),
    rewrites it and replaces it, then persists the cookies the rewrite produced; get_routes reads it back."""

    async def set_step(session: Session, primary: int, canary: int, mirrored: bool) -> None:
        current = await session.objects.must_get(route_object(session))
        routed, cookies = set_routes(session, current, primary, canary, mirrored)
        await session.objects.replace(routed)
        if cookies:
            await session.save_status(cookies)

    async def get_step(session: Session) -> Routes:
        return get_routes(session, await session.objects.must_get(route_object(session)))

    return Routing(kinds, reconcile, set_step, get_step, finalize)


def managed(
    desired: Callable[[Session], list[dict[str, Any]]],
    reconciled: Callable[[Session, Obj, Obj], dict[str, Any] | None],
) -> Step:
    """Reconcile by creating each desired object that is missing and replacing each one `reconciled` brings back in
    line (user keys and weights kept), in order."""

    async def reconcile(session: Session) -> None:
        for obj in desired(session):
            existing = await session.objects.get(obj)
            if existing is None:
                await session.objects.create(obj)
                continue
            fixed = reconciled(session, existing, obj)
            if fixed is not None:
                await session.objects.replace(fixed)

    return reconcile


def copied(
    user: Callable[[Session], Awaitable[dict[str, Any]]],
    copy_of: RouteObject,
    new: Callable[[Session, dict[str, Any]], dict[str, Any]],
    reconciled: Callable[[Session, Obj, Obj], dict[str, Any] | None],
) -> Step:
    """Reconcile the canary copy of a user's object (nginx's and skipper's Ingress, APISIX's route): read the user's
    object (`user` raises when it is missing), then create the copy from it, or bring the copy back in line."""

    async def reconcile(session: Session) -> None:
        source = await user(session)
        existing = await session.objects.get(copy_of(session))
        if existing is None:
            await session.objects.create(new(session, source))
            return
        fixed = reconciled(session, existing, source)
        if fixed is not None:
            await session.objects.replace(fixed)

    return reconcile


def stub(api_version: str, kind: str, name: str) -> dict[str, Any]:
    """The name and kind of an object, as Objects wants them."""
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}


def last_desired(desired: Callable[[Session], list[dict[str, Any]]]) -> RouteObject:
    """The route object of a `managed` router: the last desired object."""
    return lambda session: desired(session)[-1]


def no_cookies(
    rewrite: Callable[[Session, dict[str, Any], int, int], dict[str, Any]],
) -> SetRoutes:
    """A SetRoutes for routers that neither mirror nor set cookies: the rewrite of (primary, canary) alone."""
    return lambda session, current, primary, canary, _mirrored: (rewrite(session, current, primary, canary), {})


def load(provider: MeshProvider) -> Routing:
    """The `ROUTING` of the module a router kind names (a module of serinus.routers). LookupError for a kind the
    operator does not drive, TypeError for a module outside serinus.routers or without a ROUTING."""
    if provider.implementation is None:
        raise LookupError(f"router kind {provider.router.value} has no implementation")
    if not provider.implementation.startswith("serinus.routers."):
        raise TypeError(f"{provider.implementation}: a router's module must be under serinus.routers")
    routing = getattr(importlib.import_module(provider.implementation), "ROUTING", None)
    if not isinstance(routing, Routing):
        raise TypeError(f"{provider.implementation} declares no ROUTING")
    return routing
