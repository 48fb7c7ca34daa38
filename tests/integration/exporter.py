"""A metrics exporter that plays a traffic scenario, for a real Prometheus to scrape.

Counters grow at a rate that tests set and may change at any time (so `rate()` has a known answer); histograms
receive observations at a rate with a fixed distribution over their buckets (so `histogram_quantile()` has a
known answer). Values are computed from wall-clock time at scrape time: nothing runs in the background but the
HTTP server.

    exporter.counter("http_requests_total", {"status": "200"}, per_second=9.5)
    exporter.histogram("http_request_duration_seconds", {}, per_second=10,
                       buckets={0.1: 0.9, 0.5: 1.0})   # cumulative share of observations <= each bound

Series can also be driven from outside, by a traffic simulation that adds what it generated (`add`,
`add_observations`): their values change only when the test says so.

    exporter.add("istio_requests_total", {"response_code": "200"}, 1480)
    exporter.add_observations("istio_request_duration_milliseconds", {}, {25: 900, 50: 500, 100: 80}, sum_=41000)
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _render(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    escaped = (f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in pairs)
    return "{" + ",".join(escaped) + "}"


@dataclass
class _Rate:
    """A quantity that grows at `per_second`, piecewise constant in time."""

    per_second: float
    since: float
    base: float = 0.0

    def value(self, now: float) -> float:
        return self.base + self.per_second * (now - self.since)

    def change(self, per_second: float, now: float) -> None:
        self.base = self.value(now)
        self.since = now
        self.per_second = per_second


@dataclass
class _Histogram:
    observations: _Rate
    buckets: dict[float, float]
    mean: float


@dataclass
class _Tally:
    """An externally driven histogram: observations per bucket (not cumulative), their count and sum."""

    per_bucket: dict[float, float]
    count: float = 0.0
    total: float = 0.0


def _le(bound: float) -> str:
    """A bucket bound as Istio's proxies print it: `0.5`, `25`, `+Inf`."""
    if bound == float("inf"):
        return "+Inf"
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


@dataclass
class ScenarioExporter:
    """Serves `/metrics` on 127.0.0.1 from counters and histograms whose rates tests control."""

    clock: Callable[[], float] = time.monotonic
    counters: dict[tuple[str, Labels], _Rate] = field(default_factory=dict)
    histograms: dict[tuple[str, Labels], _Histogram] = field(default_factory=dict)
    port: int = 0
    tallies: dict[tuple[str, Labels], _Tally] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def target(self) -> str:
        """`127.0.0.1:<port>`, for a Prometheus scrape config."""
        return f"127.0.0.1:{self.port}"

    def counter(self, name: str, labels: Mapping[str, str], per_second: float) -> None:
        """Create a counter growing at `per_second`, or change the rate of an existing one from now on."""
        key, now = (name, _labels(labels)), self.clock()
        with self._lock:
            if key in self.counters:
                self.counters[key].change(per_second, now)
            else:
                self.counters[key] = _Rate(per_second, now)

    def histogram(
        self,
        name: str,
        labels: Mapping[str, str],
        per_second: float,
        buckets: Mapping[float, float],
        mean: float | None = None,
    ) -> None:
        """Create or change a histogram: `per_second` observations, `buckets` maps each upper bound to the
        cumulative share of observations at or below it (non-decreasing, the last one 1.0)."""
        shares = sorted(buckets.items())
        if any(b[1] < a[1] for a, b in itertools.pairwise(shares)) or not shares or shares[-1][1] != 1.0:
            raise ValueError("bucket shares must be cumulative and end at 1.0")
        key, now = (name, _labels(labels)), self.clock()
        with self._lock:
            if key in self.histograms:
                self.histograms[key].observations.change(per_second, now)
                self.histograms[key].buckets = dict(shares)
            else:
                middle = mean if mean is not None else shares[0][0] / 2
                self.histograms[key] = _Histogram(_Rate(per_second, now), dict(shares), middle)

    def add(self, name: str, labels: Mapping[str, str], amount: float) -> None:
        """Add `amount` (>= 0) to an externally driven counter, created at 0 (add 0 to create it before its
        first increment, so that `increase()` counts that increment)."""
        if amount < 0:
            raise ValueError("counters only grow")
        key, now = (name, _labels(labels)), self.clock()
        with self._lock:
            if key not in self.counters:
                self.counters[key] = _Rate(0.0, now)
            self.counters[key].base += amount

    def add_observations(
        self, name: str, labels: Mapping[str, str], per_bucket: Mapping[float, float], sum_: float = 0.0
    ) -> None:
        """Add observations to an externally driven histogram: `per_bucket` maps each upper bound to the number of
        new observations above the previous bound and at or below it (`float("inf")` for the rest); `sum_` adds
        to `_sum`. The bounds of the first call are the histogram's buckets (later calls may only use those)."""
        key = (name, _labels(labels))
        with self._lock:
            tally = self.tallies.get(key)
            if tally is None:
                bounds = sorted({*per_bucket, float("inf")})
                tally = self.tallies[key] = _Tally({b: 0.0 for b in bounds})
            unknown = set(per_bucket) - set(tally.per_bucket)
            if unknown:
                raise ValueError(f"bounds {sorted(unknown)} are not buckets of {name}")
            for bound, count in per_bucket.items():
                if count < 0:
                    raise ValueError("histogram counts only grow")
                tally.per_bucket[bound] += count
                tally.count += count
            tally.total += sum_

    def exposition(self) -> str:
        """The Prometheus text format of every series, as of now."""
        now, lines, typed = self.clock(), [], set()
        with self._lock:
            for (name, labels), rate in sorted(self.counters.items()):
                if name not in typed:
                    lines.append(f"# TYPE {name} counter")
                    typed.add(name)
                lines.append(f"{name}{_render(labels)} {rate.value(now):.6f}")
            for (name, labels), hist in sorted(self.histograms.items()):
                if name not in typed:
                    lines.append(f"# TYPE {name} histogram")
                    typed.add(name)
                count = hist.observations.value(now)
                for bound, share in sorted(hist.buckets.items()):
                    lines.append(f"{name}_bucket{_render(labels, (('le', repr(float(bound))),))} {count * share:.6f}")
                lines.append(f"{name}_bucket{_render(labels, (('le', '+Inf'),))} {count:.6f}")
                lines.append(f"{name}_sum{_render(labels)} {count * hist.mean:.6f}")
                lines.append(f"{name}_count{_render(labels)} {count:.6f}")
            for (name, labels), tally in sorted(self.tallies.items()):
                if name not in typed:
                    lines.append(f"# TYPE {name} histogram")
                    typed.add(name)
                cumulative = 0.0
                for bound, count in sorted(tally.per_bucket.items()):
                    cumulative += count
                    lines.append(f"{name}_bucket{_render(labels, (('le', _le(bound)),))} {cumulative:.6f}")
                lines.append(f"{name}_sum{_render(labels)} {tally.total:.6f}")
                lines.append(f"{name}_count{_render(labels)} {tally.count:.6f}")
        return "\n".join(lines) + "\n"

    def start(self) -> ScenarioExporter:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.exposition().encode() if self.path.startswith("/metrics") else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="scenario-exporter", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
