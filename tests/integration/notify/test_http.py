"""Alerts against hostile receivers on 127.0.0.1: the 5 s cover the whole request, and no answer is read past
the size cap (a success's body is not read at all, as in Flagger)."""

from __future__ import annotations

import time

import pytest

from serinus.errors import InvalidSpecError
from serinus.notify.alert import Alert
from serinus.notify.http import NotifyError, post_json
from serinus.notify.receivers import make_receiver
from tests.integration.hostile import MiB, drip, huge

pytestmark = pytest.mark.integration

INFO = Alert("podinfo", "test", "New revision detected, progressing canary analysis.", severity="info")
#: slack for a loaded 2-core machine; before the fix a dripping receiver held the operator for minutes
MARGIN_S = 2.0


@pytest.mark.parametrize("head_too", [True, False], ids=["headers-drip", "body-drip"])
async def test_a_dripping_receiver_times_out_after_five_seconds(head_too: bool) -> None:
    """A receiver answering one byte every 0.5 s (an error status, whose body is read) is given up on at 5 s."""
    async with drip(head_too=head_too, status=500) as server:
        started = time.monotonic()
        with pytest.raises(NotifyError) as caught:
            await make_receiver("webhook", server.url + "/hooks/SECRET").send(INFO)
        elapsed = time.monotonic() - started
    assert str(caught.value) == f"sending notification to {server.url} timed out after 5s"
    assert elapsed < 5.0 + MARGIN_S


async def test_a_huge_refusal_is_cut_at_the_cap() -> None:
    """A 500 with a 64 MiB body fails with 'response larger than 10 MiB'; reading stops there."""
    async with huge(size=64 * MiB, status=500) as server:
        with pytest.raises(NotifyError) as caught:
            await make_receiver("slack", server.url + "/services/T0/B0/SECRET").send(INFO)
    assert str(caught.value) == (f"sending notification to {server.url} bad response 500: response larger than 10 MiB")
    assert server.sent < 32 * MiB


async def test_a_success_body_is_never_read() -> None:
    """A 200 with a 64 MiB body is delivered; the body is left unread, as Flagger leaves it."""
    async with huge(size=64 * MiB, status=200) as server:
        await make_receiver("msteams", server.url + "/webhook").send(INFO)
    assert server.requests == 1
    assert server.sent < 32 * MiB


@pytest.mark.parametrize("url", ["http://[bad/services/SECRET", "http://hooks.example:abc/SECRET"])
async def test_a_malformed_url_is_a_clear_error_without_the_secret(url: str) -> None:
    """A receiver URL no client can use is refused as an AlertProvider error, and post_json refuses it too; neither
    raises a bare ValueError or echoes the URL."""
    with pytest.raises(InvalidSpecError, match=r"^invalid webhook URL$"):
        make_receiver("webhook", url)
    with pytest.raises(
        NotifyError, match=r"^sending notification failed: the receiver URL is not a valid URL"
    ) as caught:
        await post_json(url, {"text": "x"})
    assert "SECRET" not in str(caught.value)
