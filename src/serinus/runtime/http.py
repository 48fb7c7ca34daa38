"""The operator's HTTP endpoints: `/healthz` (liveness, `OK` like Flagger's) and `/metrics` (Prometheus)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serinus.runtime.metrics import ControllerMetrics


def make_app(metrics: ControllerMetrics, healthy: Callable[[], bool] = lambda: True) -> web.Application:
    """An aiohttp application serving /healthz and /metrics from `metrics`' registry."""

    async def healthz(_: web.Request) -> web.Response:
        if healthy():
            return web.Response(text="OK")
        return web.Response(status=503, text="unhealthy")

    async def metrics_handler(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_handler)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving `app` on host:port; the caller stops it with `await runner.cleanup()`."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
