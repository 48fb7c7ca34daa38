"""A real Kubernetes node on this machine for tests: containerd, a CNI bridge, kubelet and kube-proxy (iptables
mode) beside a control plane of their own, running real containers from images imported as local tarballs.

Unlike the KWOK tier, this changes host-wide state: iptables chains, a bridge, cgroups under `/kubepods`, mounts
and the sysctls kubelet rewrites. So the node is exclusive per machine (a lock file guards it), everything lives
in one fixed directory (`SERINUS_NODE_DIR`, default /tmp/serinus-node) so that a crashed run can be found, and
`cleanup()` undoes every change from the files in that directory alone: it runs before each start and on exit.
Every step that can break names itself in the `NodeError` it raises.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import ipaddress
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lightkube import Client

from tests.cluster.controlplane import (
    Cluster,
    ControlPlane,
    ControlPlaneError,
    Process,
    _cert,
    _key,
    _pem_cert,
    _pem_key,
    free_port,
)
from tests.node.cri import CRIError, RuntimeClient

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-node-binaries"
NODE_DIR = Path(os.environ.get("SERINUS_NODE_DIR") or "/tmp/serinus-node")
LOCK_FILE = Path(os.environ.get("SERINUS_NODE_LOCK") or "/tmp/serinus-node.lock")
NODE_NAME = "serinus-node"
#: the Linux bridge the pods hang off; a name no other tool uses, so cleanup can delete it without asking.
BRIDGE = "serinus-cni0"
#: ranges of their own, apart from the KWOK tier's (10.96.0.0/16 and 10.244.0.0/16), which may run alongside.
POD_SUBNET = "10.245.0.0/24"
SERVICE_CIDR = "10.97.0.0/16"
CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins
CNI_PLUGINS = ("bridge", "host-local", "portmap", "loopback")
HOST_TOOLS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "ip6tables", "conntrack", "ip", "nft")
#: what kubelet (setupKernelTunables), the CNI bridge (ip_forward) and kube-proxy may change; restored on cleanup.
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
#: host paths outside NODE_DIR that containerd, the CNI plugins or kubelet create whatever their configuration
#: says; each is removed on cleanup if it did not exist before the first start.
HOST_PATHS = (
    "/run/containerd",
    "/var/lib/cni",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/kubelet",
    "/var/lib/containerd",
    "/opt/containerd",
    "/etc/cni",
    "/opt/cni",
    "/run/netns",
    "/var/lib/kube-proxy",
    "/etc/kubernetes",
)
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw", "security")
#: the programs a node runs; only these are ever stopped by command line (everything else by pid file).
COMPONENTS = (
    "containerd",
    "containerd-shim-runc-v2",
    "kubelet",
    "kube-proxy",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
)
OUR_CHAIN_PREFIXES = ("KUBE-", "CNI-")


class NodeError(RuntimeError):
    """The node could not be built, started or cleaned; the message names the step that broke."""


# ----- small host helpers -----


def _run(args: list[str], step: str, *, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NodeError(f"{step}: {shlex.join(args)}: {err}") from err
    if check and proc.returncode != 0:
        raise NodeError(f"{step}: {shlex.join(args)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    """The current value of every sysctl in SYSCTLS that this kernel has."""
    out = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            out[name] = _sysctl_path(name).read_text().strip()
    return out


def _proc_start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat: start time in clock ticks since boot, which tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _kill(pid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; waits until the pid is gone (or reaped by us)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            if not Path(f"/proc/{pid}").exists() or _proc_state(pid) == "Z":
                return
            time.sleep(0.05)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _cmdline(pid: int) -> list[str]:
    try:
        return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _mounts_under(prefix: Path) -> list[str]:
    """Mount points at or below `prefix`, deepest first (from /proc/self/mountinfo)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # \040 and friends
        if point == str(prefix) or point.startswith(str(prefix) + "/"):
            points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def host_ip() -> str:
    """The IPv4 address of the interface the default route uses (else the first global one): the node's IP."""
    try:
        routes = json.loads(_run(["ip", "-j", "-4", "route", "show", "default"], "node IP").stdout or "[]")
        devices = [r["dev"] for r in routes if r.get("dev")]
        addrs = json.loads(_run(["ip", "-j", "-4", "addr", "show", "scope", "global"], "node IP").stdout or "[]")
    except ValueError as err:
        raise NodeError(f"node IP: cannot parse `ip -j` output: {err}") from err
    candidates = [
        (iface["ifname"], info["local"])
        for iface in addrs
        if iface.get("ifname") != BRIDGE
        for info in iface.get("addr_info", [])
        if info.get("family") == "inet" and info.get("local")
    ]
    for dev in devices:
        for name, ip in candidates:
            if name == dev:
                return str(ip)
    if candidates:
        return str(candidates[0][1])
    raise NodeError("node IP: this host has no global IPv4 address for the kubelet to register")


# ----- process bookkeeping: one pid file per process, so a crashed run's processes can be found -----


def write_pidfile(pid_dir: Path, name: str, pid: int) -> None:
    """Record a started process: its pid and start time (so a reused pid is never killed)."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "start": _proc_start_time(pid), "order": time.time_ns()}
    (pid_dir / f"{name}.pid").write_text(json.dumps(record))


def pidfiles_newest_first(pid_dir: Path) -> list[Path]:
    """The pid files of a directory, the last started first (the order to stop them in)."""

    def order(path: Path) -> int:
        try:
            return int(json.loads(path.read_text()).get("order", 0))
        except (OSError, ValueError):
            return 0

    return sorted(pid_dir.glob("*.pid"), key=order, reverse=True) if pid_dir.is_dir() else []


def pidfile_alive(path: Path) -> int | None:
    """The pid a pid file names if that very process still runs, else None."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = int(rec.get("pid", 0))
    if pid <= 0 or _proc_state(pid) in ("", "Z"):
        return None
    return pid if _proc_start_time(pid) == rec.get("start") else None


def stop_pidfile(path: Path, grace: float = 10.0) -> None:
    """Stop the process of a pid file (if it still runs) and remove the file."""
    pid = pidfile_alive(path)
    if pid is not None:
        _kill(pid, grace)
    path.unlink(missing_ok=True)


# ----- build -----


@dataclass(frozen=True)
class Artifacts:
    """What scripts/build-node-binaries produced (its JSON manifest)."""

    kubernetes_version: str
    kubelet: Path
    kube_proxy: Path
    kubectl: Path
    control_plane_bin_dir: Path
    podinfo_version: str
    traefik: Path
    images: dict[str, dict[str, str]]

    def image(self, name: str) -> str:
        """The reference of a built image, e.g. `localhost/podinfo:6.9.2`."""
        return self.images[name]["ref"]


def build_artifacts(log_path: Path) -> Artifacts:
    """Run scripts/build-node-binaries (a no-op when cached) and read what it built."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.run([str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=log, text=True, check=False)
    if proc.returncode != 0:
        text = log_path.read_text()
        broken = [ln for ln in text.splitlines() if ln.startswith("BUILD STEP FAILED")]
        tail = "\n".join(text.splitlines()[-25:])
        step = broken[-1] if broken else f"scripts/build-node-binaries exited {proc.returncode}"
        raise NodeError(f"{step}\nfull log: {log_path}\n--- last lines ---\n{tail}")
    data = json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text())
    return Artifacts(
        kubernetes_version=data["kubernetes_version"],
        kubelet=Path(data["kubelet"]),
        kube_proxy=Path(data["kube_proxy"]),
        kubectl=Path(data["kubectl"]),
        control_plane_bin_dir=Path(data["control_plane_bin_dir"]),
        podinfo_version=data["podinfo_version"],
        traefik=Path(data["traefik"]),
        images=data["images"],
    )


# ----- the control plane, as tests/cluster starts it, with what a real kubelet needs -----


class NodeControlPlane(ControlPlane):
    """tests/cluster's control plane without kwok, with Node+RBAC authorization, NodeRestriction and
    ServiceAccount admission, static tokens for the kubelet and kube-proxy, and a client certificate the
    apiserver presents to the kubelet (for logs, exec and stats)."""

    def __init__(self, workdir: Path, bin_dir: Path, pid_dir: Path, node_ip: str) -> None:
        super().__init__(workdir=workdir, bin_dir=bin_dir, nodes=0)
        self.pid_dir = pid_dir
        self.node_ip = node_ip
        self.node_token = ""
        self.proxy_token = ""

    def _spawn(self, name: str, args: list[str]) -> Process:
        proc = super()._spawn(name, args)
        write_pidfile(self.pid_dir, name, proc.popen.pid)
        return proc

    def _pki(self) -> None:
        super()._pki()
        pki = self.workdir / "pki"
        ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
        ca_key = load_pem_private_key((pki / "ca.key").read_bytes(), None)
        assert isinstance(ca_key, rsa.RSAPrivateKey)  # the control plane's CA key is RSA (controlplane._key)
        client_key = _key()
        client = _cert("kube-apiserver-kubelet-client", client_key, (ca, ca_key), org="system:masters")
        (pki / "kubelet-client.crt").write_bytes(_pem_cert(client))
        (pki / "kubelet-client.key").write_bytes(_pem_key(client_key))
        self.node_token, self.proxy_token = os.urandom(16).hex(), os.urandom(16).hex()
        with (pki / "tokens.csv").open("a") as fh:
            fh.write(f'{self.node_token},system:node:{NODE_NAME},1001,"system:nodes"\n')
            fh.write(f"{self.proxy_token},system:kube-proxy,1002\n")  # bound by the default system:node-proxier

    service_cidr = SERVICE_CIDR

    def extra_serving_ips(self) -> list[str]:
        """The node IP: pods reach the API server there, through the `kubernetes` Service."""
        return [self.node_ip]

    def _apiserver_serving(self, etcd_url: str) -> list[str]:
        """The shared flags, except that the API server also listens on the node IP and advertises it, and keeps
        the `kubernetes` Service's endpoints (the lease reconciler): in-cluster clients (the operator's Pod) reach
        it at that Service's ClusterIP through kube-proxy, as on any cluster."""
        replaced = {
            "--bind-address=127.0.0.1": "--bind-address=0.0.0.0",
            "--advertise-address=127.0.0.1": f"--advertise-address={self.node_ip}",
            "--endpoint-reconciler-type=none": "--endpoint-reconciler-type=lease",
        }
        return [replaced.get(flag, flag) for flag in super()._apiserver_serving(etcd_url)]

    def _apiserver_policy(self) -> list[str]:
        """Node and RBAC authorization with NodeRestriction, ServiceAccount admission left on (real pods get
        tokens), and a client certificate for the kubelet API (logs, stats)."""
        pki = self.workdir / "pki"
        return [
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def _start_kwok(self) -> None:
        """No kwok: the node is real."""

    def _create_nodes(self) -> None:
        """No fake nodes: kubelet registers the real one."""


# ----- the node -----


@dataclass
class RealNode:
    """containerd + CNI bridge + kubelet + kube-proxy beside a NodeControlPlane, all under `workdir`."""

    artifacts: Artifacts
    workdir: Path = NODE_DIR
    keep_logs: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    plane: NodeControlPlane | None = None
    node_ip: str = ""
    host_state: dict[str, Any] = field(default_factory=dict)
    cleanup_timings: dict[str, float] = field(default_factory=dict)
    kubelet_port: int = 0
    kubelet_healthz_port: int = 0
    kube_proxy_healthz_port: int = 0
    _lock: int | None = None

    # layout
    @property
    def pid_dir(self) -> Path:
        """One pid file per started process."""
        return self.workdir / "pids"

    @property
    def logs(self) -> Path:
        """Each node component's log (the control plane's are under control-plane/logs)."""
        return self.workdir / "logs"

    @property
    def containerd_socket(self) -> Path:
        """containerd's gRPC socket (CRI and containerd's own API)."""
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig of the node's control plane."""
        assert self.plane is not None
        return self.plane.kubeconfig

    @property
    def cluster(self) -> Cluster:
        """The control plane as tests/cluster's `Cluster` (lightkube clients, helm)."""
        assert self.plane is not None
        return Cluster(self.plane)

    def client(self, namespace: str = "default") -> Client:
        """A lightkube client with admin credentials."""
        return self.cluster.client(namespace)

    # ----- lock -----

    def acquire(self, timeout: float | None = None) -> None:
        """Take the machine-wide node lock (one real node per machine), waiting up to `timeout` seconds
        (default `SERINUS_NODE_LOCK_TIMEOUT`, else an hour: sessions on one machine queue rather than fail)."""
        if timeout is None:
            timeout = float(os.environ.get("SERINUS_NODE_LOCK_TIMEOUT") or 3600)
        fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock = fd
                return
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                    os.close(fd)
                    raise NodeError(
                        f"node lock: another test session holds {LOCK_FILE} (one real node per machine): {err}"
                    ) from err
                time.sleep(1)

    def release(self) -> None:
        """Give the node lock back."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    # ----- start -----

    def start(self, timeout: float = 180.0) -> None:
        """Clean what a crashed run left, then start everything and wait for the node Ready; on failure, clean up
        and raise NodeError naming the step."""
        t0 = time.monotonic()
        try:
            problems = cleanup(self.workdir)
            problems += [p for p in leftovers(self.workdir) if "host-state.json" not in p]
            if problems:
                raise NodeError("cleanup of an earlier run: " + "; ".join(problems))
            self._preflight()
            self._save_host_state()
            self._mark("cleanup_and_preflight_s", t0)
            self._write_cni_config()
            self._prepare_bridge()
            self._start_containerd(timeout)
            self._import_images()
            self._mark("containerd_s", t0)
            self.plane = NodeControlPlane(
                self.workdir / "control-plane", self.artifacts.control_plane_bin_dir, self.pid_dir, self.node_ip
            )
            try:
                self.plane.start(timeout)
            except ControlPlaneError as err:
                raise NodeError(f"control plane: {err}") from err
            self._mark("control_plane_s", t0)
            self._start_kubelet()
            self._wait(self._node_ready, f"node {NODE_NAME} Ready (kubelet)", timeout)
            self._mark("node_ready_s", t0)
            self._start_kube_proxy()
            self._wait(self._kube_proxy_healthy, "kube-proxy /healthz", timeout)
            self._mark("ready_s", t0)
        except BaseException:
            self.keep_logs = True  # for the post-mortem; the next start wipes them
            self.stop()
            raise

    def _mark(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.monotonic() - t0, 2)

    def _preflight(self) -> None:
        if os.geteuid() != 0:
            raise NodeError("preflight: the real node needs root (mounts, network namespaces, iptables, cgroups)")
        missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
        missing += [f"{CNI_BIN_DIR}/{p}" for p in CNI_PLUGINS if not os.access(f"{CNI_BIN_DIR}/{p}", os.X_OK)]
        if missing:
            raise NodeError(
                f"preflight: missing {', '.join(missing)} (Debian: containerd runc iptables conntrack nftables "
                "containernetworking-plugins; ./scripts/test installs them)"
            )
        for binary in (self.artifacts.kubelet, self.artifacts.kube_proxy):
            if not os.access(binary, os.X_OK):
                raise NodeError(f"preflight: {binary} missing (scripts/build-node-binaries)")
        _run(["iptables", "-w", "-t", "nat", "-S"], "preflight: iptables (needs CAP_NET_ADMIN and nf_tables)")
        _run(["ip6tables", "-w", "-t", "nat", "-S"], "preflight: ip6tables")
        if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
            raise NodeError(
                "preflight: br_netfilter is not loaded (modprobe br_netfilter): pods could not reach Services"
            )
        if not Path("/sys/fs/cgroup/memory").is_dir() and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
            raise NodeError("preflight: no memory cgroup controller under /sys/fs/cgroup")
        self.node_ip = host_ip()

    def _save_host_state(self) -> None:
        """Record, before anything changes, the sysctls and which host paths and nf_tables tables exist."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        tables = _run(["nft", "list", "tables"], "save host state: nft list tables").stdout.split("\n")
        state: dict[str, Any] = {
            "sysctls": read_sysctls(),
            "host_paths": [p for p in HOST_PATHS if os.path.lexists(p)],
            "nft_tables": [t.strip() for t in tables if t.strip()],
            "kube_proxy": str(self.artifacts.kube_proxy),
            "containerd_config": str(self.workdir / "containerd" / "config.toml"),
            "saved_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        (self.workdir / "host-state.json").write_text(json.dumps(state, indent=2))
        self.host_state = state

    @property
    def saved_sysctls(self) -> dict[str, str]:
        """The sysctls as they were before the node started."""
        return dict(self.host_state.get("sysctls", {}))

    # ----- containerd, CNI, images -----

    def _write_cni_config(self) -> None:
        net = self.workdir / "cni" / "net.d"
        net.mkdir(parents=True, exist_ok=True)
        gateway = str(next(ipaddress.ip_network(POD_SUBNET).hosts()))
        conflist = {
            "cniVersion": "1.0.0",
            "name": "serinus-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    # No masquerading and no default route: pods reach the host and Services, never an address
                    # outside this machine.
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET, "gateway": gateway}]],
                        "routes": [{"dst": SERVICE_CIDR}, {"dst": f"{self.node_ip}/32"}],
                        "dataDir": str(self.workdir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (net / "10-serinus-node.conflist").write_text(json.dumps(conflist, indent=2))

    def _prepare_bridge(self) -> None:
        """Create the bridge before the CNI plugin (which adopts it) and route the Service range onto it, so a
        request to a ClusterIP that no kube-proxy rule matches stays on this machine instead of following the
        default route out of it."""
        step = f"bridge {BRIDGE}"
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"], step)
        _run(["ip", "link", "set", BRIDGE, "up"], step)
        _run(["ip", "route", "add", SERVICE_CIDR, "dev", BRIDGE], step)

    def _start_containerd(self, timeout: float) -> None:
        config = write_containerd_config(self.workdir, self.artifacts.image("pause"))
        self._spawn("containerd", ["containerd", f"--config={config}"])
        client = RuntimeClient(str(self.containerd_socket))

        def answers() -> bool:
            if not self.containerd_socket.exists():
                return False
            try:
                client.version()
                return True
            except CRIError:
                return False

        self._wait(answers, "containerd CRI Version", timeout)

    def _import_images(self) -> None:
        for name, image in self.artifacts.images.items():
            _run(
                ["ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", "images", "import", image["tar"]],
                f"containerd: import image {name} ({image['tar']})",
                timeout=120,
            )

    # ----- kubelet, kube-proxy -----

    def _component_kubeconfig(self, name: str, token: str) -> Path:
        assert self.plane is not None
        path = self.workdir / name / "kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": name,
            "clusters": [
                {
                    "name": "node",
                    "cluster": {"server": self.plane.server, "certificate-authority": str(self.plane.ca_file)},
                }
            ],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": "node", "user": name}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def _start_kubelet(self) -> None:
        assert self.plane is not None
        kdir = self.workdir / "kubelet"
        self.kubelet_port, self.kubelet_healthz_port = free_port(), free_port()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.node_ip,
            "port": self.kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": self.kubelet_healthz_port,
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            # 1.34's default, spelled out: 1.35 flips it and would refuse this cgroup v1 host.
            "failCgroupV1": False,
            # The default -999 needs CAP_SYS_RESOURCE, which a VM's root may lack (EPERM).
            "oomScoreAdj": 0,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.plane.ca_file)},
            },
            "authorization": {"mode": "Webhook"},
            # 100 turns image garbage collection off: the images were imported by hand and cannot be pulled again.
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "podLogsDir": str(self.workdir / "pod-logs"),
            "volumePluginDir": str(kdir / "volume-plugins"),
            "registerNode": True,
            "maxPods": 110,
        }
        kdir.mkdir(parents=True, exist_ok=True)
        (kdir / "config.yaml").write_text(yaml.safe_dump(config))
        kubeconfig = self._component_kubeconfig("kubelet", self.plane.node_token)
        self._spawn(
            "kubelet",
            [
                str(self.artifacts.kubelet),
                f"--config={kdir / 'config.yaml'}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={kdir / 'root'}",
                # not derived from --root-dir: the default is /var/lib/kubelet/pki
                f"--cert-dir={kdir / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={self.node_ip}",
                "--v=1",
            ],
        )

    def _start_kube_proxy(self) -> None:
        assert self.plane is not None
        pdir = self.workdir / "kube-proxy"
        self.kube_proxy_healthz_port = free_port()
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self._component_kubeconfig("kube-proxy", self.plane.proxy_token))},
            "hostnameOverride": NODE_NAME,
            "mode": "iptables",
            "clusterCIDR": POD_SUBNET,
            "healthzBindAddress": f"127.0.0.1:{self.kube_proxy_healthz_port}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            "oomScoreAdj": 0,
            # Zeros mean "leave the host's conntrack sysctls as they are".
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            # Off, so kube-proxy does not set net.ipv4.conf.all.route_localnet.
            "iptables": {"localhostNodePorts": False, "minSyncPeriod": "0s", "syncPeriod": "30s"},
        }
        pdir.mkdir(parents=True, exist_ok=True)
        (pdir / "config.yaml").write_text(yaml.safe_dump(config))
        self._spawn("kube-proxy", [str(self.artifacts.kube_proxy), f"--config={pdir / 'config.yaml'}", "--v=1"])

    # ----- readiness -----

    def _node_ready(self) -> bool:
        assert self.plane is not None
        body: dict[str, Any] = self.plane._get_json(f"/api/v1/nodes/{NODE_NAME}") or {}
        conditions = body.get("status", {}).get("conditions", []) or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def _kube_proxy_healthy(self) -> bool:
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an http_proxy
            with opener.open(f"http://127.0.0.1:{self.kube_proxy_healthz_port}/healthz", timeout=2) as r:
                return int(r.status) == 200
        except urllib.error.HTTPError:
            return False

    def spawn(self, name: str, args: list[str]) -> Process:
        """Start a host process of the node (logs/<name>.log, a pid file): stopped with the node, and found by
        the cleanup of a crashed run."""
        return self._spawn(name, args)

    def _spawn(self, name: str, args: list[str]) -> Process:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("wb") as fh:
            popen = subprocess.Popen(
                args,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,
            )
        write_pidfile(self.pid_dir, name, popen.pid)
        proc = Process(name, popen, log)
        self.processes.append(proc)
        return proc

    def _wait(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        watched = self.processes + (self.plane.processes if self.plane else [])
        while time.monotonic() < deadline:
            for proc in watched:
                if proc.popen.poll() is not None:
                    raise NodeError(
                        f"{what}: {proc.name} exited with code {proc.popen.returncode}; its last log lines "
                        f"({proc.log}):\n{proc.tail()}"
                    )
            try:
                if check():
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.25)
        logs = "\n".join(f"--- {p.name} ({p.log}) ---\n{p.tail(15)}" for p in watched)
        raise NodeError(f"{what}: timed out after {timeout:.0f}s\n{logs}")

    # ----- stop -----

    def stop(self) -> None:
        """Stop everything and undo every host change (idempotent); the node lock stays held."""
        for proc in self.processes:
            with contextlib.suppress(OSError):
                proc.popen.poll()  # reap, so pid files never point at our own zombies
        timings: dict[str, float] = {}
        cleanup(self.workdir, keep_logs=self.keep_logs, timings=timings)
        if not self.cleanup_timings:  # the first, real cleanup; later calls find nothing to do
            self.cleanup_timings = timings
        for proc in [*self.processes, *(self.plane.processes if self.plane else [])]:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                proc.popen.wait(1)
        self.processes.clear()
        if self.plane is not None:
            self.plane.processes.clear()

    def leftovers(self) -> list[str]:
        """Every host change still in place after stop(), as sentences; empty when the host is as it was."""
        return leftovers(self.workdir, self.host_state)


def write_containerd_config(workdir: Path, sandbox_image: str) -> Path:
    """containerd's config: its root, state, socket, netns mounts and runc state all under `workdir`."""
    cdir = workdir / "containerd"
    cdir.mkdir(parents=True, exist_ok=True)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    text = f"""version = 2
root = "{cdir / "root"}"
state = "{cdir / "state"}"
# plugins that would create directories outside this tree, or that a node of this kind never uses
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{cdir / "containerd.sock"}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  # negative oom_score_adj needs CAP_SYS_RESOURCE; without it the pause container would fail to start
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{cdir / "runc"}"
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{workdir / "cni" / "net.d"}"
"""
    path = cdir / "config.toml"
    path.write_text(text)
    return path


# ----- cleanup, from the files in the node directory alone -----


def _remove_sandboxes(workdir: Path, errors: list[str]) -> None:
    """Stop and remove every pod sandbox through the CRI, starting containerd again if a crashed run left one."""
    socket_path = workdir / "containerd" / "containerd.sock"
    config = workdir / "containerd" / "config.toml"
    pidfile = workdir / "pids" / "containerd.pid"
    if not (workdir / "containerd" / "root").is_dir():
        return
    if pidfile_alive(pidfile) is None:
        if not config.is_file() or shutil.which("containerd") is None:
            return
        socket_path.unlink(missing_ok=True)
        log = (workdir / "logs" / "containerd-cleanup.log").open("ab") if (workdir / "logs").is_dir() else None
        popen = subprocess.Popen(
            ["containerd", f"--config={config}"],
            stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if log:
            log.close()
        write_pidfile(workdir / "pids", "containerd", popen.pid)
    client = RuntimeClient(str(socket_path))
    deadline = time.monotonic() + 30
    while True:
        try:
            client.version()
            break
        except CRIError as err:
            if time.monotonic() > deadline:
                errors.append(f"cleanup: containerd did not answer the CRI to remove pods: {err}")
                return
            time.sleep(0.2)
    try:
        for sandbox in client.pod_sandboxes():
            client.stop_pod_sandbox(sandbox)
            client.remove_pod_sandbox(sandbox)
    except CRIError as err:
        errors.append(f"cleanup: removing pod sandboxes through the CRI: {err}")


def _our_processes(workdir: Path) -> list[tuple[int, list[str]]]:
    """Processes of the node's own programs (including containerd shims, which outlive containerd) whose command
    line names the node directory; anything else that mentions it (an editor, a `tail -f`) is left alone."""
    out = []
    for pid in _all_pids():
        args = _cmdline(pid)
        if (
            pid != os.getpid()
            and args
            and os.path.basename(args[0]) in COMPONENTS
            and any(str(workdir) in a for a in args)
        ):
            out.append((pid, args))
    return out


def _kill_leftover_processes(workdir: Path) -> None:
    """Stop what the pid files did not name: shims, or a component whose pid file was lost."""
    for pid, _ in _our_processes(workdir):
        _kill(pid, 5.0)


def _clean_iptables(errors: list[str]) -> None:
    """Delete every KUBE-* and CNI-* chain (kube-proxy's, kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY and
    KUBE-IPTABLES-HINT, the CNI plugins') and the rules that jump to them, for IPv4 and IPv6."""
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in IPTABLES_TABLES:
            save = _run([f"{tool}-save", "-t", table], f"cleanup: {tool}-save", check=False)
            if save.returncode != 0:
                continue
            ours = [
                ln[1:].split()[0]
                for ln in save.stdout.splitlines()
                if ln.startswith(":") and ln[1:].startswith(OUR_CHAIN_PREFIXES)
            ]
            if not ours:
                continue
            for line in save.stdout.splitlines():
                if not line.startswith("-A "):
                    continue
                parts = shlex.split(line)
                chain = parts[1]
                target = next((parts[i + 1] for i, p in enumerate(parts[:-1]) if p in ("-j", "-g")), "")
                if chain not in ours and target in ours:
                    proc = _run([tool, "-w", "-t", table, "-D", chain, *parts[2:]], "cleanup", check=False)
                    if proc.returncode != 0:
                        errors.append(f"cleanup: {tool} -t {table} -D {chain} ...: {proc.stderr.strip()}")
            for flag in ("-F", "-X"):
                for chain in ours:
                    proc = _run([tool, "-w", "-t", table, flag, chain], "cleanup", check=False)
                    if proc.returncode != 0 and flag == "-X":
                        errors.append(f"cleanup: {tool} -t {table} -X {chain}: {proc.stderr.strip()}")


def _clean_nft_tables(before: list[str]) -> None:
    """Delete nf_tables tables that iptables-nft created for this run (absent before it and holding no rules)."""
    if shutil.which("nft") is None:
        return
    now = [t.strip() for t in _run(["nft", "list", "tables"], "cleanup", check=False).stdout.splitlines() if t.strip()]
    for line in now:
        if line in before or not line.startswith("table "):
            continue
        family_name = line.split()[1:3]
        listing = _run(["nft", "list", "table", *family_name], "cleanup", check=False).stdout
        structural = ("table", "chain", "type", "}", "#")
        if not any(ln.strip() and not ln.strip().startswith(structural) for ln in listing.splitlines()):
            _run(["nft", "delete", "table", *family_name], "cleanup", check=False)


def _cgroup_dirs() -> list[Path]:
    return sorted(Path("/sys/fs/cgroup").glob("*/kubepods")) + sorted(Path("/sys/fs/cgroup").glob("kubepods"))


def _clean_cgroups(errors: list[str]) -> None:
    """Kill what still runs in /kubepods (containers of the node's pods) and remove the cgroups, deepest first."""
    for root in _cgroup_dirs():
        for _ in range(50):
            if not root.exists():
                break
            dirs = [*sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)), root]
            for d in dirs:
                with contextlib.suppress(OSError):
                    for pid in (d / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
            for d in dirs:
                with contextlib.suppress(OSError):
                    d.rmdir()
            if root.exists():
                time.sleep(0.1)
        if root.exists():
            errors.append(f"cleanup: cgroup {root} could not be removed")


def read_host_state(workdir: Path = NODE_DIR) -> dict[str, Any]:
    """What `RealNode` recorded before its start (sysctls, host paths, nf_tables tables); empty if nothing."""
    try:
        state: dict[str, Any] = json.loads((workdir / "host-state.json").read_text())
    except (OSError, ValueError):
        return {}
    return state


def cleanup(workdir: Path = NODE_DIR, *, keep_logs: bool = False, timings: dict[str, float] | None = None) -> list[str]:
    """Undo everything a node started from `workdir` changed on the host, whether it exited cleanly or crashed.

    Idempotent. Returns the problems met (the steps still continue); `leftovers()` says what remains. The seconds
    each step took go into `timings` when given."""
    errors: list[str] = []
    pids = workdir / "pids"
    t0 = time.monotonic()

    def lap(step: str) -> None:
        nonlocal t0
        if timings is not None:
            timings[step] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()

    # kubelet first, so it starts nothing again; kube-proxy with it.
    for name in ("kubelet", "kube-proxy"):
        stop_pidfile(pids / f"{name}.pid")
    lap("stop_kubelet_kube_proxy_s")
    _remove_sandboxes(workdir, errors)
    lap("remove_pod_sandboxes_s")
    stop_pidfile(pids / "containerd.pid")
    # The control plane in reverse start order: the apiserver still has etcd while it shuts down.
    for pidfile in pidfiles_newest_first(pids):
        stop_pidfile(pidfile)
    _kill_leftover_processes(workdir)
    lap("stop_processes_s")
    state = read_host_state(workdir)
    kube_proxy = str(state.get("kube_proxy", ""))
    if kube_proxy and os.access(kube_proxy, os.X_OK):
        # kube-proxy's own cleanup of its iptables, ipvs and nftables rules.
        log = workdir / "logs" / "kube-proxy-cleanup.log"
        proc = _run([kube_proxy, "--cleanup", "--v=1"], "cleanup: kube-proxy --cleanup", check=False, timeout=60)
        if log.parent.is_dir():
            log.write_text(proc.stdout + proc.stderr)
    lap("kube_proxy_cleanup_s")
    _clean_iptables(errors)
    lap("iptables_s")
    for point in _mounts_under(workdir):
        if _run(["umount", point], "cleanup", check=False).returncode != 0:
            proc = _run(["umount", "-l", point], "cleanup", check=False)
            if proc.returncode != 0:
                errors.append(f"cleanup: umount {point}: {proc.stderr.strip()}")
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        for link in Path(f"/sys/class/net/{BRIDGE}/brif").glob("*"):
            _run(["ip", "link", "delete", link.name], "cleanup", check=False)
        proc = _run(["ip", "link", "delete", BRIDGE], "cleanup", check=False)
        if proc.returncode != 0:
            errors.append(f"cleanup: ip link delete {BRIDGE}: {proc.stderr.strip()}")
    _clean_cgroups(errors)
    lap("mounts_bridge_cgroups_s")
    if state:
        _clean_nft_tables(list(state.get("nft_tables", [])))
        for name, value in dict(state.get("sysctls", {})).items():
            path = _sysctl_path(name)
            with contextlib.suppress(OSError):
                if path.read_text().strip() != value:
                    path.write_text(value)
        existed = set(state.get("host_paths", []))
        for host_path in HOST_PATHS:
            if host_path not in existed and os.path.lexists(host_path) and not _mounts_under(Path(host_path)):
                _remove(Path(host_path))
    if workdir.exists():
        if _mounts_under(workdir):
            errors.append(f"cleanup: mounts remain under {workdir}; not deleting it")
        elif keep_logs:
            for child in workdir.iterdir():
                if child.name == "logs":
                    continue
                if child.is_dir() and child.name == "control-plane":
                    for sub in child.iterdir():
                        if sub.name != "logs":
                            _remove(sub)
                else:
                    _remove(child)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    lap("restore_and_remove_s")
    return errors


def leftovers(workdir: Path = NODE_DIR, before: dict[str, Any] | None = None) -> list[str]:
    """What a node changed on the host and is still there, one sentence each (empty: the host is clean).

    `before` is the host state recorded before the start (`read_host_state()`); without it, sysctls, host paths
    and nf_tables tables are not compared."""
    before = before or {}
    found: list[str] = []
    for pid, args in _our_processes(workdir):
        found.append(f"process {pid} still runs: {shlex.join(args)[:200]}")
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool):
            for line in _run([tool], f"check {tool}", check=False).stdout.splitlines():
                if line.startswith(":") and line[1:].startswith(OUR_CHAIN_PREFIXES):
                    found.append(f"{tool}: chain {line[1:].split()[0]} remains")
                elif line.startswith("-A ") and (BRIDGE in line or POD_SUBNET in line):
                    found.append(f"{tool}: rule remains: {line}")
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        found.append(f"bridge {BRIDGE} remains")
    found += [f"mount remains: {p}" for p in _mounts_under(workdir)]
    found += [f"mount remains: {p}" for p in _mounts_under(Path("/run/containerd"))]
    found += [f"cgroup remains: {p}" for p in _cgroup_dirs()]
    for name, value in dict(before.get("sysctls", {})).items():
        with contextlib.suppress(OSError):
            now = _sysctl_path(name).read_text().strip()
            if now != value:
                found.append(f"sysctl {name} is {now}, was {value} before the node started")
    existed = set(before.get("host_paths", HOST_PATHS))
    found += [f"{p} remains (it did not exist before)" for p in HOST_PATHS if p not in existed and os.path.lexists(p)]
    if before and shutil.which("nft"):
        tables = _run(["nft", "list", "tables"], "check nft", check=False).stdout.splitlines()
        found += [
            f"nf_tables {t.strip()} remains" for t in tables if t.strip() and t.strip() not in before["nft_tables"]
        ]
    if (workdir / "host-state.json").exists():
        found.append(f"{workdir / 'host-state.json'} remains (cleanup did not finish)")
    return found


@contextlib.contextmanager
def running_node(artifacts: Artifacts, *, keep_logs: bool = False) -> Iterator[RealNode]:
    """A started RealNode under the machine-wide lock; stopped and cleaned on exit."""
    node = RealNode(artifacts=artifacts, keep_logs=keep_logs)
    node.acquire()
    try:
        node.start()
        yield node
    finally:
        try:
            node.stop()
        finally:
            node.release()
