"""The operator process: start-up checks, /healthz and /metrics, leader election, watches and the scheduler.

`Operator.run()` is what `serinus run` executes. The analysis of one Canary is a callable it is given
(`analyze(key)`), so the process shell is the same whatever decides the release.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from lightkube.config.kubeconfig import SingleConfig

from serinus import __version__
from serinus.errors import MetricsError
from serinus.kube.client import check_crds, connect, load_config
from serinus.kube.leader import LeaderElector
from serinus.metrics.prometheus import PrometheusProvider
from serinus.runtime.http import make_app, serve
from serinus.runtime.metrics import ControllerMetrics
from serinus.runtime.options import OperatorOptions
from serinus.runtime.scheduler import Key, Scheduler, Wait
from serinus.runtime.watch import CanaryIndex, build_registry, run_watches

log = logging.getLogger(__name__)
#: the default of --leader-election-lease-name (Flagger's Lease is flagger-leader-election, so both can run at once)
LEASE_NAME = "serinus-leader-election"
Analyze = Callable[[Key], Awaitable["Wait | None"]]


@dataclass
class Operator:
    """One operator process."""

    options: OperatorOptions
    analyze: Analyze
    metrics: ControllerMetrics = field(default_factory=ControllerMetrics)
    identity: str | None = None
    index: CanaryIndex = field(default_factory=CanaryIndex)
    leading: asyncio.Event = field(default_factory=asyncio.Event)
    serving: asyncio.Event = field(default_factory=asyncio.Event)
    _healthy: bool = True

    async def check_metrics_server(self) -> bool:
        """Flagger's start-up probe of the metrics server: logged, never fatal."""
        prom = PrometheusProvider(self.options.metrics_server)
        try:
            await prom.is_online()
            log.info("Connected to metrics server %s", self.options.metrics_server)
            return True
        except MetricsError as err:
            log.error("Metrics server %s unreachable %s", self.options.metrics_server, err)
            return False
        finally:
            await prom.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set (or leadership is lost, which raises LeadershipLost)."""
        config = load_config(self.options.kubeconfig or None)
        client = connect(self.options.kubeconfig or None, namespace=self.options.namespace or None)
        try:
            await check_crds(client, self.options.namespace or None)
            await self.check_metrics_server()
            self.metrics.set_info(__version__, self.options.mesh_provider)
            runner = await serve(
                make_app(self.metrics, lambda: self._healthy), self.options.listen_address, self.options.port
            )
            self.serving.set()
            try:
                if self.options.enable_leader_election:
                    elector = LeaderElector(
                        client,
                        namespace=self.options.lease_namespace,
                        name=self.options.leader_election_lease_name,
                        identity=self.identity,
                        lease_duration=self.options.lease_duration,
                        renew_deadline=self.options.renew_deadline,
                        retry_period=self.options.retry_period,
                    )
                    await _until_stopped(elector.run(lambda: self._lead(config, stop)), stop)
                else:
                    await self._lead(config, stop)
            finally:
                await runner.cleanup()
        finally:
            await client.close()

    async def _lead(self, config: SingleConfig, stop: asyncio.Event) -> None:
        self.leading.set()
        log.info("leading: watching Canaries", extra={"namespace": self.options.namespace or "*"})
        scheduler = Scheduler(self.analyze, self.index.interval, self.index.expect)
        registry = build_registry(scheduler, self.index, config, track_configs=self.options.enable_config_tracking)
        try:
            await run_watches(registry, namespace=self.options.namespace or None, stop=stop)
        finally:
            await scheduler.close()
            self.leading.clear()


async def _until_stopped(work: Awaitable[None], stop: asyncio.Event) -> None:
    """Run `work` until it ends or `stop` is set (then cancel it, which releases the Lease)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
    finally:
        for pending in (task, stopper):
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
