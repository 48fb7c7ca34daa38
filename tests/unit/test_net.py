"""serinus.net's pure parts: sizes, URLs, Retry-After and deadlines (its network side is in tests/integration)."""

from __future__ import annotations

import email.utils

import httpx2
import pytest

from serinus.net import Deadline, parse_size, retry_after, size_text, url_problem


@pytest.mark.parametrize(
    ("text", "size"),
    [("10485760", 10 * 2**20), ("10MiB", 10 * 2**20), ("10Mi", 10 * 2**20), ("512 KiB", 512 * 1024), ("1GiB", 2**30)],
)
def test_sizes_read_as_bytes(text: str, size: int) -> None:
    """--max-response-bytes takes a byte count or a binary unit."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten", "10MB", "-1", "1.5MiB", "10 MiB extra"])
def test_other_sizes_are_refused_with_an_example(text: str) -> None:
    """Anything else is refused, and the message shows the form that works."""
    with pytest.raises(ValueError, match=r"use bytes, or a number with KiB, MiB or GiB \(10MiB\)"):
        parse_size(text)


def test_sizes_read_back_as_people_write_them() -> None:
    """Messages say `10 MiB`, not 10485760."""
    assert [size_text(n) for n in (10 * 2**20, 1536, 100, 2**30)] == ["10 MiB", "1.5 KiB", "100 bytes", "1 GiB"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[bad", "not a valid URL (Invalid IPv6 URL)"),
        ("http://prom:99999", "not a valid URL (Port out of range 0-65535)"),
        ("prometheus:9090", "not an http:// or https:// URL"),
        ("http://", "a URL without a host"),
        ("https://user:secret@prom.example:9090/x", None),
        ("http://[::1]:9090", None),
    ],
)
def test_url_problems_are_named(url: str, problem: str | None) -> None:
    """A URL neither urllib nor httpx would take is named for what is wrong with it; a good one passes."""
    assert url_problem(url) == problem


def test_retry_after_in_seconds_or_as_a_date() -> None:
    """Retry-After is read as go-retryablehttp reads it: seconds, or an HTTP date counted from now."""
    assert retry_after(httpx2.Headers({"Retry-After": "3600"})) == 3600.0
    date = email.utils.formatdate(1_000_120.0, usegmt=True)
    assert retry_after(httpx2.Headers({"Retry-After": date}), now=lambda: 1_000_000.0) == 120.0
    assert retry_after(httpx2.Headers({"Retry-After": date}), now=lambda: 2_000_000.0) == 0.0
    assert retry_after(httpx2.Headers({"Retry-After": "soon"})) is None
    assert retry_after(httpx2.Headers({"Retry-After": "-5"})) is None
    assert retry_after(httpx2.Headers()) is None


def test_an_attempt_never_outlives_its_call() -> None:
    """An attempt inside a call ends at its own timeout or at the call's end, whichever comes first."""
    now = [100.0]
    call = Deadline(12.0, clock=lambda: now[0])
    assert call.within(10.0).left() == 10.0
    now[0] = 105.0
    attempt = call.within(10.0)
    assert (attempt.left(), attempt.seconds) == (7.0, 10.0)
    now[0] = 113.0
    assert call.expired()
    assert call.within(10.0).left() == 0.0
