"""The node's edge: Traefik (built from its Go module by scripts/build-node-binaries) on the host, routing
IngressRoutes, TraefikServices and Gateway API HTTPRoutes to pod IPs, and a Prometheus (Debian's) scraping its
metrics every second. Both listen on the node IP, so pods (the load tester, the operator) reach them there and the
host does too; both are node processes (pid files), so the node's cleanup stops them after a crash."""

from __future__ import annotations

import shutil
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.cluster import crds
from tests.cluster.controlplane import free_port
from tests.node.realnode import NodeError, RealNode

#: direct connections only: an http_proxy in the environment must not carry requests meant for the node.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: the GatewayClass Traefik's Gateway API provider serves
GATEWAY_CLASS = "traefik"


@dataclass
class Edge:
    """Where Traefik and its Prometheus answer."""

    web: str  # Traefik's `web` entry point: http://<node IP>:<port>
    prometheus: str  # http://<node IP>:<port>
    traefik_log: Path
    web_port: int
    #: seconds Traefik waits before it applies a changed configuration (its providersThrottleDuration, set here
    #: to its default explicitly): a route change reaches requests up to this long after it was written
    throttle: float = 2.0


def _status(url: str) -> int:
    try:
        with OPENER.open(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def _free_port(ip: str) -> int:
    """A TCP port free on `ip` (a port free on 127.0.0.1 may be taken on the node IP, by the kubelet for one)."""
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def _wait(node: RealNode, check: str, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _status(check) == 0:
        if time.monotonic() > deadline:
            raise NodeError(f"edge: {what} did not answer {check} in {timeout:.0f}s (logs under {node.logs})")
        time.sleep(0.3)


def start_edge(node: RealNode) -> Edge:
    """Install Traefik's and Gateway API's CRDs, start Traefik (CRD and Gateway API providers, Prometheus
    metrics) and a Prometheus scraping it; return their URLs."""
    assert node.plane is not None
    traefik = node.artifacts.traefik
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise NodeError("edge: prometheus is not installed (./scripts/test installs it with apt-get)")
    crds.install_traefik(node.cluster)
    crds.install_gateway_api(node.cluster)
    ip = node.node_ip
    web_port, metrics_port, prom_port = _free_port(ip), free_port(), _free_port(ip)
    api = [
        f"--providers.kubernetescrd.endpoint={node.plane.server}",
        f"--providers.kubernetescrd.token={node.plane.token}",
        f"--providers.kubernetescrd.certauthfilepath={node.plane.ca_file}",
        "--providers.kubernetescrd.allowCrossNamespace=true",
        f"--providers.kubernetesgateway.endpoint={node.plane.server}",
        f"--providers.kubernetesgateway.token={node.plane.token}",
        f"--providers.kubernetesgateway.certauthfilepath={node.plane.ca_file}",
    ]
    node.spawn(
        "traefik",
        [
            str(traefik),
            f"--entryPoints.web.address={ip}:{web_port}",
            f"--entryPoints.metrics.address=127.0.0.1:{metrics_port}",
            "--metrics.prometheus=true",
            f"--providers.providersThrottleDuration={Edge.throttle:g}s",
            "--metrics.prometheus.entryPoint=metrics",
            "--metrics.prometheus.addServicesLabels=true",
            "--metrics.prometheus.addRoutersLabels=true",
            *api,
            "--log.level=INFO",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
        ],
    )
    _wait(node, f"http://127.0.0.1:{metrics_port}/metrics", "traefik's metrics entry point")
    _wait(node, f"http://{ip}:{web_port}/", "traefik's web entry point")  # any answer, 404 included
    work = node.workdir / "prometheus"
    work.mkdir(parents=True, exist_ok=True)
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: traefik\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    node.spawn(
        "prometheus",
        [
            prometheus,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={ip}:{prom_port}",
        ],
    )
    prom = f"http://{ip}:{prom_port}"
    _wait(node, f"{prom}/-/ready", "prometheus")
    return Edge(f"http://{ip}:{web_port}", prom, node.logs / "traefik.log", web_port)
