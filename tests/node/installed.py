"""Serinus installed on the real node the way a user installs it: `helm install` of its chart and of the load
tester's chart, from its own image (built by scripts/build-image from the Dockerfile, imported into containerd)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from lightkube import ApiError, Client
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Pod, Service

from tests.cluster.controlplane import CHART
from tests.node.realnode import RealNode

LOADTESTER_CHART = CHART.parent / "serinus-loadtester"
NAMESPACE = "serinus-system"


class HelmError(RuntimeError):
    """helm failed; the message has its output."""


def helm(node: RealNode, *args: str, timeout: float = 300.0) -> str:
    """Run the real helm (built with the control plane) against the node's cluster."""
    assert node.plane is not None
    proc = subprocess.run(
        [str(node.plane.bin_dir / "helm"), "--kubeconfig", str(node.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise HelmError(f"helm {' '.join(args[:3])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@dataclass
class Installed:
    """The two releases: the operator and the load tester, both in NAMESPACE."""

    node: RealNode
    image: str

    @property
    def client(self) -> Client:
        """An admin client for NAMESPACE."""
        return self.node.client(namespace=NAMESPACE)

    def operator_pod(self) -> Pod:
        """The operator's one Pod."""
        pods = list(self.client.list(Pod, labels={"app.kubernetes.io/name": "serinus"}))
        assert len(pods) == 1, f"expected one operator pod, found {[p.metadata.name for p in pods if p.metadata]}"
        return pods[0]

    def loadtester_url(self) -> str:
        """The load tester's Service as pods reach it: by ClusterIP (the node runs no cluster DNS)."""
        svc = self.client.get(Service, "serinus-loadtester")
        assert svc.spec is not None
        return f"http://{svc.spec.clusterIP}/"

    def operator_log(self) -> str:
        """The operator container's log (through the API server and the kubelet, as `kubectl logs`)."""
        pod = self.operator_pod()
        assert pod.metadata is not None
        return "".join(self.client.log(str(pod.metadata.name), namespace=NAMESPACE))

    def ready(self) -> bool:
        """Both Deployments report every replica available."""
        for name in ("serinus", "serinus-loadtester"):
            status = self.client.get(Deployment, name).status
            if status is None or not status.availableReplicas:
                return False
        return True


def install(node: RealNode, image: str, *operator_values: str) -> Installed:
    """`helm install` both charts with `image` (`localhost/serinus:<key>`, never pulled) and wait for them; on
    failure the error says what each pod of the namespace was doing, with its events and log."""
    repository, tag = image.rsplit(":", 1)
    common = ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never"]
    try:
        helm(node, "install", "serinus", str(CHART), "--namespace", NAMESPACE, "--create-namespace", *common,
             *operator_values, "--wait", "--timeout", "3m")  # fmt: skip
        helm(node, "install", "serinus-loadtester", str(LOADTESTER_CHART), "--namespace", NAMESPACE, *common,
             "--wait", "--timeout", "3m")  # fmt: skip
    except HelmError as err:
        raise HelmError(f"{err}\n{diagnose(node.client(namespace=NAMESPACE))}") from err
    return Installed(node, image)


def diagnose(client: Client) -> str:
    """Each pod's phase, container states, events and the end of its log: why a release did not become ready."""
    lines = []
    for pod in client.list(Pod):
        name = pod.metadata.name if pod.metadata else "?"
        status = pod.status
        lines.append(f"pod {name}: {status.phase if status else '?'}")
        for cs in (status.containerStatuses or []) if status else []:
            lines.append(f"  {cs.name}: ready={cs.ready} restarts={cs.restartCount} state={cs.state}")
        for event in client.list(Event, fields={"involvedObject.name": str(name)}):
            lines.append(f"  event {event.reason}: {event.message}")
        try:
            lines.append("  log: " + "".join(client.log(str(name), tail_lines=30)).replace("\n", "\n    "))
        except ApiError as err:
            lines.append(f"  log unavailable: {err}")
    return "\n".join(lines)


def uninstall(node: RealNode) -> None:
    """Remove both releases (the CRDs stay, as with any helm chart's crds/)."""
    for release in ("serinus-loadtester", "serinus"):
        helm(node, "uninstall", release, "--namespace", NAMESPACE, "--wait", "--timeout", "2m")
