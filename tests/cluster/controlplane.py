"""A real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes whose pods become Ready), all built from the Go module proxy.

Every process is started by this module, listens on loopback only, and is stopped by its process id.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace

from tests.fields import present
from tests.gomodules import GoModuleError, flagger_crd_file, pinned_versions

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-test-binaries"
SERINUS_CRD_FILE = ROOT / "deploy" / "crds" / "crds.yaml"
CHART = ROOT / "deploy" / "charts" / "serinus"
#: the namespace and release the chart's ServiceAccount is installed with, for the operator's identity in tests
OPERATOR_NAMESPACE, OPERATOR_RELEASE = "serinus-system", "serinus"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
#: kwok's own stage definitions, read from its module in the Go module cache at run time.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which step broke."""


def build_binaries(log_path: Path) -> Path:
    """Run scripts/build-test-binaries (a no-op when cached) and return the binary directory."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.run([str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=log, text=True, check=False)
    if proc.returncode != 0:
        text = log_path.read_text()
        broken = [ln for ln in text.splitlines() if ln.startswith("BUILD STEP FAILED")]
        tail = "\n".join(text.splitlines()[-25:])
        step = broken[-1] if broken else f"scripts/build-test-binaries exited {proc.returncode}"
        raise ControlPlaneError(f"{step}\nfull log: {log_path}\n--- last lines ---\n{tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    ca: bool = False,
    sans: list[x509.GeneralName] | None = None,
    org: str | None = None,
) -> x509.Certificate:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, subject)]
    if org:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    name = x509.Name(names)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Process:
    """One started component: its name, process and log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    args: list[str] = field(default_factory=list)

    def tail(self, lines: int = 30) -> str:
        """The last lines the component logged."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """Stop the process by its id: SIGTERM, then SIGKILL after `grace` seconds."""
        if self.popen.poll() is not None:
            return
        os.kill(self.popen.pid, signal.SIGTERM)
        os.kill(self.popen.pid, signal.SIGCONT)  # a paused component would hold the signal until SIGKILL
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


#: users besides the admin, with their groups, authenticated by static tokens (tests of who may do what: RBAC and
#: admission checks on a real identity, as tests/cluster/runtime/test_actions.py makes)
TEST_USERS: dict[str, tuple[str, ...]] = {"alice": ("release-managers",), "bob": ("developers",)}


@dataclass
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok, on loopback, in `workdir`."""

    workdir: Path
    bin_dir: Path
    nodes: int = 2
    processes: list[Process] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    api_port: int = 0
    token: str = ""
    #: static bearer tokens of TEST_USERS, by user name
    user_tokens: dict[str, str] = field(default_factory=dict)
    etcd_url: str = ""
    #: (from, to) in wall-clock seconds: each time kube-apiserver was stopped until it answered /readyz again.
    #: A restarted API server answers before its RBAC caches are filled and refuses (403) what it would allow;
    #: the least-privilege test does not count refusals in these windows.
    api_restarts: list[tuple[float, float]] = field(default_factory=list)
    _stopped_at: dict[str, float] = field(default_factory=dict)

    @property
    def audit_log(self) -> Path:
        """The API server's audit log of requests made with ServiceAccount credentials (JSON lines)."""
        return self.workdir / "logs" / "audit.log"

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (bearer token in group system:masters, CA-verified TLS)."""
        return self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        """The apiserver's URL."""
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ca_file(self) -> Path:
        """CA bundle that signed the apiserver's serving certificate."""
        return self.workdir / "pki" / "ca.crt"

    # ----- start / stop -----

    def start(self, timeout: float = 180.0) -> None:
        """Start every component and wait until `nodes` fake nodes are Ready; stop everything on failure."""
        t0 = time.monotonic()
        try:
            self._pki()
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url)
            self._wait(lambda: self._get("/readyz") == 200, "kube-apiserver /readyz", timeout)
            self.timings["apiserver_ready_s"] = time.monotonic() - t0
            self._start_controller_manager()
            self._start_scheduler()
            self._start_kwok()
            self._create_nodes()
            self._wait(self._nodes_ready, f"{self.nodes} kwok nodes Ready", timeout)
            self.timings["node_ready_s"] = time.monotonic() - t0
            self._wait(
                lambda: self._get("/api/v1/namespaces/default/serviceaccounts/default") == 200,
                "default ServiceAccount (kube-controller-manager running)",
                timeout,
            )
            self.timings["ready_s"] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every started process, newest first, by process id."""
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()

    # ----- components -----

    def _spawn(self, name: str, args: list[str]) -> Process:
        proc = self._popen(name, args, "wb")
        self.processes.append(proc)
        return proc

    def _popen(self, name: str, args: list[str], mode: str) -> Process:
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open(mode) as fh:
            popen = subprocess.Popen(
                args,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,
            )
        return Process(name, popen, log, list(args))

    # ----- outages, for the chaos and leader-election tests -----

    def component(self, name: str) -> Process:
        """The running process of a component (`etcd`, `kube-apiserver`, ...)."""
        for proc in self.processes:
            if proc.name == name:
                return proc
        raise ControlPlaneError(f"no component {name} was started")

    def stop_component(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one component by its process id (SIGKILL by default: a crash, no graceful shutdown) and wait for
        it to exit; `start_component` starts it again on the same ports."""
        proc = self.component(name)
        if proc.popen.poll() is None:
            self._stopped_at[name] = time.time()
            os.kill(proc.popen.pid, sig)
            proc.popen.wait(30)

    def start_component(self, name: str, timeout: float = 60.0) -> None:
        """Start a stopped component again with the same arguments (same ports, same etcd data), appending to its
        log, and wait until it serves (`/readyz` for kube-apiserver, `/health` for etcd)."""
        index = next(i for i, p in enumerate(self.processes) if p.name == name)
        old = self.processes[index]
        if old.popen.poll() is None:
            raise ControlPlaneError(f"{name} is still running (pid {old.popen.pid})")
        self.processes[index] = self._popen(name, old.args, "ab")
        if name == "etcd":
            self._wait(lambda: _http_status(f"{self.etcd_url}/health") == 200, "etcd /health after a restart", timeout)
        if name in ("etcd", "kube-apiserver"):  # the API server serves again once it has (re)connected to etcd
            self.wait_api_ready(timeout)
        if name == "kube-apiserver":
            self.api_restarts.append((self._stopped_at.pop(name, time.time()), time.time()))

    def wait_api_ready(self, timeout: float = 60.0) -> None:
        """Wait until kube-apiserver answers /readyz with 200."""
        self._wait(lambda: self._get("/readyz") == 200, "kube-apiserver /readyz", timeout)

    def pause_component(self, name: str) -> None:
        """SIGSTOP one component: its sockets stay open and connections hang, as behind a dead network path."""
        os.kill(self.component(name).popen.pid, signal.SIGSTOP)

    def resume_component(self, name: str) -> None:
        """SIGCONT a paused component."""
        os.kill(self.component(name).popen.pid, signal.SIGCONT)

    def _pki(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        ca_key = _key()
        ca = _cert("serinus-test-ca", ca_key, None, ca=True)
        serving_key = _key()
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            # the `kubernetes` Service's ClusterIP: the first address of the Service range
            x509.IPAddress(ipaddress.ip_network(self.service_cidr)[1]),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in self.extra_serving_ips()),
        ]
        serving = _cert("kube-apiserver", serving_key, (ca, ca_key), sans=sans)
        sa_key = _key()
        (pki / "ca.crt").write_bytes(_pem_cert(ca))
        (pki / "ca.key").write_bytes(_pem_key(ca_key))
        (pki / "apiserver.crt").write_bytes(_pem_cert(serving))
        (pki / "apiserver.key").write_bytes(_pem_key(serving_key))
        (pki / "sa.key").write_bytes(_pem_key(sa_key))
        (pki / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self.token = os.urandom(16).hex()
        lines = [f'{self.token},serinus-test-admin,1000,"system:masters"']
        for uid, (user, groups) in enumerate(TEST_USERS.items(), start=1001):
            self.user_tokens[user] = os.urandom(16).hex()
            lines.append(f'{self.user_tokens[user]},{user},{uid},"{",".join(groups)}"')
        (pki / "tokens.csv").write_text("\n".join(lines) + "\n")

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=test={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
                "--quota-backend-bytes=4294967296",
            ],
        )
        self._wait(lambda: _http_status(f"{url}/health") == 200, "etcd /health", 60)
        self.etcd_url = url
        return url

    #: the Service range of this control plane
    service_cidr = "10.96.0.0/16"

    def extra_serving_ips(self) -> list[str]:
        """Addresses beyond loopback that the API server's certificate names (none here: it serves on loopback)."""
        return []

    def _start_apiserver(self, etcd_url: str) -> None:
        self.api_port = free_port()
        self._spawn(
            "kube-apiserver",
            [str(self.bin_dir / "kube-apiserver"), *self._apiserver_serving(etcd_url), *self._apiserver_policy()],
        )

    def _apiserver_serving(self, etcd_url: str) -> list[str]:
        """The flags every control plane of the tests shares: storage, TLS, tokens, ServiceAccount keys."""
        pki = self.workdir / "pki"
        return [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            f"--service-cluster-ip-range={self.service_cidr}",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            f"--cert-dir={pki}",
            "--profiling=false",
            "--v=1",
        ]

    def _apiserver_policy(self) -> list[str]:
        """RBAC with no ServiceAccount admission (fake pods need no tokens). Requests made with ServiceAccount
        credentials are audited (method, resource, verb, user), so the install tests can compare what the operator
        did with what its ClusterRole grants."""
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
            "  - level: Metadata\n    userGroups: [system:serviceaccounts]\n  - level: None\n"
        )
        return [
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-maxsize=0",
        ]

    def _component_kubeconfig(self) -> list[str]:
        k = str(self.kubeconfig)
        return [
            f"--kubeconfig={k}",
            f"--authentication-kubeconfig={k}",
            f"--authorization-kubeconfig={k}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        ]

    def _start_controller_manager(self) -> None:
        pki = self.workdir / "pki"
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                *self._component_kubeconfig(),
                f"--secure-port={free_port()}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=false",
                "--node-monitor-period=5s",
                "--node-monitor-grace-period=40s",
                "--profiling=false",
                "--v=1",
            ],
        )

    def _start_scheduler(self) -> None:
        self._spawn(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                *self._component_kubeconfig(),
                f"--secure-port={free_port()}",
                "--profiling=false",
                "--v=1",
            ],
        )

    def _start_kwok(self) -> None:
        versions = pinned_versions()
        gomod = Path(
            subprocess.run(
                [str(BUILD_SCRIPT), "--print-gomodcache"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        stage_root = gomod / f"sigs.k8s.io/kwok@v{versions['KWOK_VERSION']}" / "kustomize" / "stage"
        docs = []
        for rel in KWOK_STAGES:
            path = stage_root / rel
            if not path.is_file():
                raise ControlPlaneError(f"kwok stage {path} not found in the Go module cache")
            docs.append(path.read_text())
        config = self.workdir / "kwok-stages.yaml"
        config.write_text("\n---\n".join(docs))
        self._spawn(
            "kwok",
            [
                str(self.bin_dir / "kwok"),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={config}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
                f"--server-address=127.0.0.1:{free_port()}",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
            ],
        )

    def _create_nodes(self) -> None:
        for i in range(self.nodes):
            name = f"kwok-node-{i}"
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "type": "kwok",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "kubernetes.io/role": "agent",
                    },
                },
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake"},
                },
            }
            status = self._request("POST", "/api/v1/nodes", node)
            if status not in (200, 201, 409):
                raise ControlPlaneError(f"creating node {name} answered HTTP {status}")

    # ----- readiness -----

    def _nodes_ready(self) -> bool:
        body = self._get_json("/api/v1/nodes")
        if not body:
            return False
        ready = 0
        for node in body.get("items", []):
            for cond in node.get("status", {}).get("conditions", []) or []:
                if cond.get("type") == "Ready" and cond.get("status") == "True":
                    ready += 1
        return ready >= self.nodes

    def _wait(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.popen.poll() is not None:
                    raise ControlPlaneError(
                        f"{proc.name} exited with code {proc.popen.returncode} while waiting for {what}; "
                        f"its last log lines ({proc.log}):\n{proc.tail()}"
                    )
            try:
                if check():
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.25)
        logs = "\n".join(f"--- {p.name} ({p.log}) ---\n{p.tail(10)}" for p in self.processes)
        raise ControlPlaneError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")

    # ----- tiny HTTP client used before any test client exists -----

    def write_kubeconfig(self) -> None:
        """Write the admin kubeconfig for this control plane."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "serinus-test",
            "clusters": [
                {"name": "serinus-test", "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)}}
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "serinus-test",
                    "context": {"cluster": "serinus-test", "user": "admin", "namespace": "default"},
                }
            ],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _request(self, method: str, path: str, body: object | None = None) -> int:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=5) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def _get(self, path: str) -> int:
        if not self.kubeconfig.exists():
            self.write_kubeconfig()
        return self._request("GET", path)

    def _get_json(self, path: str) -> dict[str, Any] | None:
        req = urllib.request.Request(self.server + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, context=self._ssl(), timeout=5) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


class Cluster:
    """What a test gets: the admin kubeconfig, the server URL and lightkube clients."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.kubeconfig: Path = plane.kubeconfig
        self.server: str = plane.server
        self.timings: dict[str, float] = plane.timings
        self.audit_log: Path = plane.audit_log

    def client(self, namespace: str = "default", field_manager: str = "serinus-tests") -> Client:
        """A lightkube client with admin credentials."""
        return Client(KubeConfig.from_file(self.kubeconfig), namespace=namespace, field_manager=field_manager)

    def helm_template(
        self, *args: str, chart: Path = CHART, namespace: str = OPERATOR_NAMESPACE, release: str = OPERATOR_RELEASE
    ) -> list[dict[str, Any]]:
        """The documents `helm template` renders for a chart (the real helm binary, built like the others)."""
        version = pinned_versions()["K8S_VERSION"]
        proc = subprocess.run(
            [
                str(self.plane.bin_dir / "helm"),
                "template",
                release,
                str(chart),
                "--namespace",
                namespace,
                "--kube-version",
                version,
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ControlPlaneError(f"helm template {chart.name} {' '.join(args)} failed: {proc.stderr.strip()}")
        return [d for d in yaml.safe_load_all(proc.stdout) if d]

    def kustomize_build(self, path: Path) -> list[dict[str, Any]]:
        """The documents `kustomize build` renders for an overlay (the real kustomize binary)."""
        proc = subprocess.run(
            [str(self.plane.bin_dir / "kustomize"), "build", str(path)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise ControlPlaneError(f"kustomize build {path} failed: {proc.stderr.strip()}")
        return [d for d in yaml.safe_load_all(proc.stdout) if d]

    def ensure_namespace(self, name: str) -> str:
        """Create the namespace unless it exists; return its name."""
        try:
            self.client().create(Namespace(metadata=ObjectMeta(name=name)))
        except ApiError as err:
            if err.status.code != 409:
                raise
        return name

    def user_kubeconfig(self, user: str) -> Path:
        """A kubeconfig authenticating as one of TEST_USERS (a static token), in namespace default."""
        path = self.plane.workdir / f"{user}.kubeconfig"
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": user, "user": {"token": self.plane.user_tokens[user]}}]
        config["contexts"][0]["context"]["user"] = user
        path.write_text(yaml.safe_dump(config))
        return path

    def operator_kubeconfig(self) -> Path:
        """A kubeconfig holding a token of the Helm chart's ServiceAccount, bound to the chart's ClusterRole.

        The cluster tests run `serinus run` with it, so every release they drive proves the chart grants enough,
        and the API server's audit log (`audit_log`) records what the operator used."""
        path = self.plane.workdir / "serinus-operator.kubeconfig"
        if path.exists():
            return path
        from lightkube.models.authentication_v1 import TokenRequestSpec
        from lightkube.resources.core_v1 import ServiceAccount

        client = self.client()
        self.ensure_namespace(OPERATOR_NAMESPACE)
        account = ""
        for doc in self.helm_template("--set", "leaderElection.enabled=true"):
            if doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
                client.apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
                if doc["kind"] == "ServiceAccount":
                    account = str(doc["metadata"]["name"])
        token = client.create(
            ServiceAccount.Token(
                metadata=ObjectMeta(name=account, namespace=OPERATOR_NAMESPACE),
                spec=TokenRequestSpec(audiences=[], expirationSeconds=86400),
            ),
            account,
            namespace=OPERATOR_NAMESPACE,
        )
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": "serinus", "user": {"token": present(token.status).token}}]
        config["contexts"][0]["context"]["user"] = "serinus"
        path.write_text(yaml.safe_dump(config))
        return path

    def install_flagger_crds(self, timeout: float = 30.0) -> list[str]:
        """Apply the CRDs of Flagger's module (artifacts/flagger/crd.yaml); wait until each is Established."""
        try:
            path = flagger_crd_file()
        except GoModuleError as err:
            raise ControlPlaneError(f"CRD STEP FAILED: {err}") from err
        return self.install_crds(path, timeout)

    def install_serinus_crds(self, timeout: float = 30.0) -> list[str]:
        """Apply Serinus's CRDs (deploy/crds/crds.yaml, which also accept StatefulSet targets) and wait until the
        apiserver serves their schema."""
        names = self.install_crds(SERINUS_CRD_FILE, timeout)
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:  # a new schema takes a moment to reach every handler: probe with a dry-run StatefulSet Canary
            try:
                client.create(
                    codecs.from_dict(
                        {
                            "apiVersion": "flagger.app/v1beta1",
                            "kind": "Canary",
                            "metadata": {"name": "schema-probe", "namespace": "default"},
                            "spec": {
                                "targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "probe"},
                                "service": {"port": 80},
                                "analysis": {"interval": "1m", "threshold": 1, "iterations": 1},
                            },
                        }
                    ),
                    dry_run=True,
                )
                return names
            except ApiError:
                if time.monotonic() > deadline:
                    raise ControlPlaneError("our Canary schema was not served in time") from None
                time.sleep(0.2)

    def install_crds(self, path: Path, timeout: float = 30.0) -> list[str]:
        """Apply the CRDs of a file and wait until each is Established."""
        client = self.client()
        names = []
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                client.apply(codecs.from_dict(doc), field_manager="serinus-tests", force=True)
                names.append(doc["metadata"]["name"])
        deadline = time.monotonic() + timeout
        for name in names:
            while not any(
                c.type == "Established" and c.status == "True"
                for c in (present(client.get(CustomResourceDefinition, name).status).conditions or [])
            ):
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"CRD {name} not Established after {timeout:.0f}s")
                time.sleep(0.2)
        return names
