"""Runs last in tests/node (file name): stopping the node leaves the host as it was before the node started."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.node.realnode import BRIDGE, NODE_DIR, RealNode, read_sysctls


def _chains() -> list[str]:
    out = []
    for tool in ("iptables-save", "ip6tables-save"):
        text = subprocess.run([tool], capture_output=True, text=True, check=True).stdout
        out += [f"{tool} {ln.split()[0]}" for ln in text.splitlines() if ln.startswith((":KUBE-", ":CNI-"))]
    return out


def _mounts() -> list[str]:
    return [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines() if str(NODE_DIR) in ln]


def test_stopping_the_node_leaves_no_trace_on_the_host(node: RealNode) -> None:
    """After the node's cleanup: no KUBE-/CNI- chains (IPv4 and IPv6), no bridge, no /kubepods cgroups, no mounts
    or processes of the node, and every sysctl kubelet or the CNI bridge rewrote is back to its earlier value."""
    running = _chains()
    # Proof the check below is not vacuous: kube-proxy's and kubelet's chains exist while the node runs.
    assert "iptables-save :KUBE-SERVICES" in running
    assert "iptables-save :KUBE-FIREWALL" in running
    saved = dict(node.saved_sysctls)
    rewritten = {k: v for k, v in read_sysctls().items() if saved.get(k) != v}

    node.stop()

    assert _chains() == []
    assert not Path(f"/sys/class/net/{BRIDGE}").exists()
    assert list(Path("/sys/fs/cgroup").glob("*/kubepods")) == []
    assert _mounts() == []
    now = read_sysctls()
    assert {k: now[k] for k in rewritten} == {k: saved[k] for k in rewritten}
    assert now == saved
    assert node.leftovers() == []
