"""Real requests from the host, in the background, and what answered them: podinfo's JSON names the version
(its UI message, set per release) and the pod. Samples of the Canary's weight are taken beside them, so the share
served by the canary can be compared with the weight the router was given."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: direct connections only: an http_proxy in the environment must not carry requests meant for the node.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answer(url: str, host: str | None = None, timeout: float = 2.0) -> dict[str, Any]:
    """podinfo's JSON answer to one request on a new connection (so every balancer picks again)."""
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with OPENER.open(req, timeout=timeout) as resp:
        body: dict[str, Any] = json.loads(resp.read())
        return body


@dataclass
class Traffic:
    """Requests to `url` (with a Host header when routed by host name) from `workers` threads, until stopped:
    each answer is (time, podinfo's message) or (time, "error: <type>")."""

    url: str
    host: str | None = None
    workers: int = 1
    pause: float = 0.05
    answers: list[tuple[float, str]] = field(default_factory=list)
    weights: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = str(answer(self.url, self.host)["message"])
            except (OSError, ValueError, KeyError) as err:
                text = f"error: {type(err).__name__}"
            self.answers.append((time.time(), text))
            if self.pause:
                self._stop.wait(self.pause)

    @contextlib.contextmanager
    def flowing(self, weight: Callable[[], int] | None = None) -> Iterator[Traffic]:
        """Traffic flows inside the block; `weight()`, when given, is sampled every half second."""
        threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.workers)]
        if weight is not None:
            threads.append(threading.Thread(target=self._sample, args=(weight,), daemon=True))
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(10)

    def _sample(self, weight: Callable[[], int]) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # an API hiccup loses one sample, not the run
                self.weights.append((time.time(), weight()))
            self._stop.wait(0.5)

    def between(self, start: float, end: float) -> list[str]:
        """What was answered between two times."""
        return [text for at, text in self.answers if start <= at <= end]

    def windows(self, settle: float = 1.0) -> list[tuple[int, float, float]]:
        """(weight, start, end) of each run of equal weight samples, without its first `settle` seconds (the
        router takes a moment to apply a new weight) nor the half second before the next change was seen."""
        runs: list[tuple[int, float, float]] = []  # (weight, first seen, last seen)
        for at, w in self.weights:
            if runs and runs[-1][0] == w:
                runs[-1] = (w, runs[-1][1], at)
            else:
                runs.append((w, at, at))
        return [(w, start + settle, end - 0.5) for w, start, end in runs if end - start - settle > 2]

    def shares(self, canary: str, settle: float = 1.0) -> list[tuple[int, float, int]]:
        """(weight, share of answers from `canary` in %, answers) for each window of equal weight."""
        out = []
        for w, start, end in self.windows(settle):
            got = [t for t in self.between(start, end) if not t.startswith("error")]
            if got:
                out.append((w, 100.0 * sum(t == canary for t in got) / len(got), len(got)))
        return out
