"""The load tester's HTTP server: /healthz, /metrics, the gates, and task execution on every other path."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serinus.loadtester.config import Settings
from serinus.loadtester.gates import GateStore, gate_routes
from serinus.loadtester.metrics import LoadtesterMetrics
from serinus.loadtester.payload import PayloadError, WebhookPayload, parse_payload
from serinus.loadtester.policy import namespace_allowed, refusal
from serinus.loadtester.runner import Busy, TaskRunner
from serinus.loadtester.tasks import TaskRequestError, build_task, failure_text

log = logging.getLogger("serinus.loadtester")

#: Largest request body read; a larger one is answered 413 (a webhook payload is well under 1 KiB).
MAX_BODY_BYTES = 1 << 20
#: Longest wait for a request body to arrive in full; then 408 (Flagger's server gives a whole request 5 s).
BODY_TIMEOUT = 10.0


class LoadTester:
    """One load tester: its settings, gates, metrics and running commands."""

    def __init__(self, settings: Settings, metrics: LoadtesterMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or LoadtesterMetrics()
        self.gates = GateStore()
        self.runner = TaskRunner(settings.timeout, self.metrics, settings.max_concurrent_commands)

    async def read_payload(self, request: web.Request) -> WebhookPayload:
        """The request's webhook payload; 400 when it is not one (413 past MAX_BODY_BYTES, 408 past BODY_TIMEOUT),
        403 `Forbidden` outside --namespace-regexp."""
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("request refused path=%s: the body is larger than %d bytes", request.path, MAX_BODY_BYTES)
            raise web.HTTPRequestEntityTooLarge(
                MAX_BODY_BYTES, text=f"the request body is larger than {MAX_BODY_BYTES} bytes"
            ) from None
        except TimeoutError:
            log.warning("request refused path=%s: the body did not arrive within %gs", request.path, BODY_TIMEOUT)
            raise web.HTTPRequestTimeout(text=f"the request body did not arrive within {BODY_TIMEOUT:g}s") from None
        try:
            payload = parse_payload(body)
        except PayloadError as exc:
            log.warning("request refused path=%s: decoding the request body failed: %s", request.path, exc)
            raise web.HTTPBadRequest(text=f"decoding the request body failed: {exc}") from None
        if not namespace_allowed(self.settings, payload.namespace):
            log.warning(
                "request refused path=%s canary=%s: namespace does not match --namespace-regexp",
                request.path,
                payload.canary,
            )
            raise web.HTTPForbidden(text="Forbidden")
        return payload

    async def handle_task(self, request: web.Request) -> web.Response:
        """Run the task a webhook asks for (Flagger's pkg/loadtester/server.go HandleNewTask): 202 for `cmd`, 200/500
        for blocking types."""
        payload = await self.read_payload(request)
        try:
            task = build_task(payload)
        except TaskRequestError as exc:
            log.warning("task rejected canary=%s: %s", payload.canary, exc)
            return web.Response(status=400, text=str(exc))
        refused = refusal(self.settings, task)
        if refused is not None:
            self.metrics.refused(task.type, refused.reason)
            log.warning("task refused type=%s canary=%s: %s", task.type, task.canary, refused.message)
            return web.Response(status=403, text=refused.message)
        try:
            if not task.blocking:
                self.runner.submit(task)
                return web.Response(status=202)
            result = await self.runner.run(task)
        except Busy as exc:
            self.metrics.refused(task.type, "too-many")
            log.warning("task refused type=%s canary=%s: %s", task.type, task.canary, exc)
            return web.Response(status=429, text=str(exc))
        if not result.ok:
            return web.Response(status=500, text=failure_text(task, result.output, result.error or ""))
        return web.Response(text=result.output if task.return_output else "")

    async def healthz(self, _: web.Request) -> web.Response:
        """200 `OK`."""
        return web.Response(text="OK")

    async def metrics_page(self, _: web.Request) -> web.Response:
        """The Prometheus exposition of this load tester's metrics."""
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def on_shutdown(self, _: web.Application) -> None:
        """Kill every running command (aiohttp on_shutdown signal)."""
        await self.runner.stop()


@web.middleware
async def one_line_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer an unexpected error with a short 500 and one log line, never a traceback (HTTP errors pass through)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # the last guard: whatever a request breaks, the server answers
        log.error("request failed path=%s: %s: %s", request.path, type(exc).__name__, exc)
        return web.Response(status=500, text=f"internal error: {type(exc).__name__}")


def make_app(settings: Settings) -> web.Application:
    """The aiohttp application of a load tester; stopping it kills every command it started."""
    tester = LoadTester(settings)
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[one_line_errors])
    app.router.add_route("*", "/healthz", tester.healthz)
    app.router.add_route("*", "/metrics", tester.metrics_page)
    app.router.add_routes(gate_routes(tester.gates, tester.read_payload))
    # Like Go's "/" pattern, every other path runs a task.
    app.router.add_route("*", "/{path:.*}", tester.handle_task)
    app.on_shutdown.append(tester.on_shutdown)
    return app
