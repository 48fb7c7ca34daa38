"""Graphite from Debian's packages: carbon-cache receives real datapoints over its plaintext protocol, graphite-web
serves them through the render API, and the provider reads them as a MetricTemplate would."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from serinus.errors import AuthenticationFailed, NoValuesFound, QueryFailed
from serinus.metrics.registry import ProviderConfig, make_provider
from tests.integration.receivers import Recorder, free_port
from tests.integration.servers import running

pytestmark = pytest.mark.integration

CARBON_CONF = """[cache]
STORAGE_DIR = {work}/storage
LOCAL_DATA_DIR = {work}/storage/whisper
WHITELISTS_DIR = {work}/storage/lists
CONF_DIR = {work}
LOG_DIR = {work}/log
PID_DIR = {work}
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 10000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
"""

WEB_SETTINGS = """from graphite.settings import *  # noqa: F403
STORAGE_DIR = "{storage}"
WHISPER_DIR = "{storage}/whisper"
STANDARD_DIRS = [WHISPER_DIR]
LOG_DIR = "{work}"
INDEX_FILE = "{work}/index"
SECRET_KEY = "serinus-tests"
CARBONLINK_HOSTS = ["127.0.0.1:{query}"]
DATABASES = {{"default": {{"NAME": "{work}/graphite.db", "ENGINE": "django.db.backends.sqlite3"}}}}
"""


@dataclass(frozen=True)
class Graphite:
    """carbon's plaintext port and graphite-web's URL."""

    line_port: int
    url: str

    def send(self, *points: tuple[str, float, float]) -> None:
        """Datapoints (path, value, timestamp) over carbon's plaintext protocol."""
        with socket.create_connection(("127.0.0.1", self.line_port)) as sock:
            sock.sendall("".join(f"{p} {v} {int(t)}\n" for p, v, t in points).encode())


@pytest.fixture(scope="module")
def graphite() -> Iterator[Graphite]:
    """carbon-cache and graphite-web (Django's server under Debian's python3) on free loopback ports."""
    line, pickle, query, web = free_port(), free_port(), free_port(), free_port()
    storage: list[Path] = []

    def carbon_prepare(work: Path) -> None:
        (work / "carbon.conf").write_text(CARBON_CONF.format(work=work, line=line, pickle=pickle, query=query))
        (work / "storage-schemas.conf").write_text("[default]\npattern = .*\nretentions = 10s:1d\n")
        storage.append(work / "storage")

    with running(
        "carbon-cache",
        ("carbon-cache",),
        lambda w: [f"--config={w}/carbon.conf", "--debug", "start"],
        f"tcp://127.0.0.1:{line}",
        prepare=carbon_prepare,
    ):

        def web_prepare(work: Path) -> None:
            (work / "serinus_graphite_settings.py").write_text(
                WEB_SETTINGS.format(storage=storage[0], work=work, query=query)
            )

        env = {"DJANGO_SETTINGS_MODULE": "serinus_graphite_settings", "PYTHONPATH": "", "PYTHONNOUSERSITE": "1"}

        def web_args(work: Path) -> list[str]:
            env["PYTHONPATH"] = str(work)
            return ["-m", "django", "runserver", f"127.0.0.1:{web}", "--noreload"]

        with running(
            "graphite-web",
            ("/usr/bin/python3",),
            web_args,
            f"http://127.0.0.1:{web}/version",
            env=env,
            prepare=web_prepare,
            timeout=60,
        ):
            yield Graphite(line, f"http://127.0.0.1:{web}")


async def test_last_non_null_point_of_a_render_query(graphite: Graphite) -> None:
    """Points sent to carbon come back through the render API; the newest non-null point is the value."""
    now = time.time()
    graphite.send(
        ("shop.web.requests", 120, now - 40),
        ("shop.web.requests", 80, now - 30),
        ("shop.web.errors", 3, now - 40),
        ("shop.web.errors", 2, now - 30),
    )
    provider = make_provider(ProviderConfig("graphite", graphite.url))
    try:
        assert await provider.is_online()
        rate = "target=asPercent(shop.web.errors, shop.web.requests)&from=-2min"
        value: float | None = None
        deadline = time.monotonic() + 20
        while value is None:
            try:
                value = await provider.query(rate)
            except NoValuesFound:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        assert value == pytest.approx(2.5)
        assert await provider.query("target=sumSeries(shop.web.*)&from=-2min") == 82
    finally:
        await provider.close()


async def test_no_datapoints_and_a_bad_function(graphite: Graphite) -> None:
    """A series with no points is 'no values found'; an unknown render function is a failed query."""
    provider = make_provider(ProviderConfig("graphite", graphite.url))
    try:
        with pytest.raises(NoValuesFound, match=r"no values found; query: target=shop\.nothing&from=-1min"):
            await provider.query("target=shop.nothing&from=-1min")
        with pytest.raises(QueryFailed, match=r"query failed \(HTTP 400"):
            await provider.query("target=noSuchFunction(shop.web.requests)")
        with pytest.raises(QueryFailed, match="no target= parameter"):
            await provider.query("from=-1min")
    finally:
        await provider.close()


async def test_basic_auth_from_the_secret_and_refusal(receiver: Recorder) -> None:
    """username/password from the Secret become basic auth; a 401 says authentication failed, without them."""
    receiver.status = 401
    provider = make_provider(
        ProviderConfig("graphite", receiver.url, secret={"username": "u", "password": "pw-SECRET"})
    )
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await provider.query("target=x")
    finally:
        await provider.close()
    assert receiver.requests[0].headers["Authorization"] == "Basic dTpwdy1TRUNSRVQ="
    assert receiver.requests[0].path == "/render?target=x&format=json"
    assert "SECRET" not in str(caught.value)
