"""Alert test fixtures: the recording receiver and a real Alertmanager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.receivers import free_port, receiver
from tests.integration.servers import running

__all__ = ["receiver"]


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[str]:
    """Debian's prometheus-alertmanager on 127.0.0.1 (clustering off, temporary storage); yields its base URL."""
    port = free_port()

    def args(work: Path) -> list[str]:
        (work / "alertmanager.yml").write_text(
            "route:\n  receiver: blackhole\n  group_wait: 0s\nreceivers:\n  - name: blackhole\n"
        )
        return [
            f"--config.file={work / 'alertmanager.yml'}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]

    url = f"http://127.0.0.1:{port}"
    with running("alertmanager", ("prometheus-alertmanager", "alertmanager"), args, f"{url}/-/ready"):
        yield url
