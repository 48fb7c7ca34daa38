"""Kayenta: Spinnaker's canary judge over its REST API; the metric's value is the judgement score (0-100).

The MetricTemplate's query is a YAML or JSON document naming the canary config and the scopes to compare:

    canaryConfigId: 6f7d...            # required
    application: podinfo               # optional, and the account names below
    metricsAccountName: prometheus
    storageAccountName: in-memory
    scopes:                            # Kayenta's CanaryScopePair map; start/end default to the last interval
      default:
        controlScope: {scope: "{{ target }}-primary", location: "{{ namespace }}", step: 60}
        experimentScope: {scope: "{{ target }}", location: "{{ namespace }}", step: 60}
    thresholds: {pass: 95, marginal: 75}
    timeoutSeconds: 60                 # how long to wait for the judgement (default 60)

Serinus `POST`s `/canary/<canaryConfigId>`, polls `GET /canary/<executionId>` every two seconds until it is
complete, and returns `result.judgeResult.score.score`. A terminal execution is a failed query naming Kayenta's
exception. `GET /health` tells whether Kayenta is up. Auth, when the Secret has it: `token` (bearer) or
`username` and `password`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx2

from serinus.api.manifests import ManifestError, load_yaml
from serinus.errors import NoValuesFound, ProviderUnreachable, QueryFailed
from serinus.metrics.answers import finite, number, obj
from serinus.metrics.http import ProviderHttp
from serinus.metrics.secrets import basic_auth_pair
from serinus.net import Deadline

POLL_S = 2.0
DEFAULT_TIMEOUT_S = 60.0
ACCOUNTS = ("application", "metricsAccountName", "storageAccountName", "configurationAccountName")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KayentaProvider:
    """Asks Kayenta to judge the canary against the primary and returns the score."""

    name = "kayenta"

    def __init__(
        self,
        address: str,
        secret: Mapping[str, str],
        *,
        interval_s: float | None = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {secret['token']}"} if secret.get("token") else {}
        pair = None if headers else basic_auth_pair(self.name, secret)
        self.window_s = interval_s or 60.0
        self.now, self.sleep = now, sleep
        self.http = ProviderHttp(
            self.name,
            address or "http://kayenta:8090",
            headers=headers,
            auth=httpx2.BasicAuth(*pair) if pair else None,
            transport=transport,
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    def _request(self, query: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
        try:
            doc = load_yaml(query)  # the one bounded YAML reader: a template's query may be an alias bomb
        except ManifestError as err:
            raise self.http.error(QueryFailed, f"the query is not YAML ({err.problem})", query) from err
        if not isinstance(doc, dict) or not doc.get("canaryConfigId"):
            raise self.http.error(QueryFailed, "the query must be a mapping with canaryConfigId and scopes", query)
        if not isinstance(doc.get("scopes"), dict) or not doc["scopes"]:
            raise self.http.error(QueryFailed, "the query has no scopes (controlScope and experimentScope)", query)
        end = self.now()
        scopes: dict[str, Any] = {}
        for name, pair in doc["scopes"].items():
            if not isinstance(pair, dict) or "controlScope" not in pair or "experimentScope" not in pair:
                raise self.http.error(QueryFailed, f"scopes.{name} needs controlScope and experimentScope", query)
            scopes[name] = {
                side: {"start": _iso(end - self.window_s), "end": _iso(end), **(pair[side] or {})}
                for side in ("controlScope", "experimentScope")
            }
        body = {"scopes": scopes, "thresholds": doc.get("thresholds") or {"pass": 95, "marginal": 75}}
        return body, str(doc["canaryConfigId"]), doc

    def _timeout(self, value: Any, query: str) -> float:
        """`timeoutSeconds`: how long to wait for the judgement, on the clock (60 s when unset)."""
        if value is None or value == "":
            return DEFAULT_TIMEOUT_S
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
            raise self.http.error(
                QueryFailed, f"timeoutSeconds must be a positive number of seconds, not {value!r}", query
            )
        return seconds

    async def query(self, query: str) -> float:
        """The judgement score Kayenta gives the canary, 0 to 100."""
        shown = " ".join(query.split())
        body, config_id, doc = self._request(query)
        params = {k: str(doc[k]) for k in ACCOUNTS if doc.get(k)}
        timeout = self._timeout(doc.get("timeoutSeconds"), shown)
        deadline = Deadline(timeout)
        started = await self.http.json("POST", f"/canary/{config_id}", query=shown, params=params, json=body)
        execution = started.get("canaryExecutionId") if isinstance(started, dict) else None
        if not execution or not isinstance(execution, str | int):
            raise self.http.error(QueryFailed, "Kayenta started no execution (no canaryExecutionId)", shown)
        status_params = {"storageAccountName": params["storageAccountName"]} if "storageAccountName" in params else None
        waited = 0.0
        while True:
            status = await self.http.json("GET", f"/canary/{execution}", query=shown, params=status_params)
            if isinstance(status, dict) and status.get("complete"):
                break
            if waited >= timeout or deadline.expired():  # slept that long, or the requests took the rest
                raise self.http.error(
                    ProviderUnreachable, f"execution {execution} not complete after {timeout:.0f}s", shown
                )
            await self.sleep(POLL_S)
            waited += POLL_S
        return self.answer(status, str(execution), shown)

    def answer(self, status: Any, execution: str, query: str) -> float:
        """The score of a complete execution: a terminal one is a failed query naming Kayenta's exception, no
        score is "no values found", and a score that is no number (±Inf, NaN included) or a status of the wrong
        shape is MalformedAnswer."""

        fail = self.http.malformed(query)

        def dig(value: Any, *path: str) -> Any:
            for depth, key in enumerate(path):
                value = obj(value, ".".join(path[:depth]) or "the execution", fail).get(key)
            return value

        status = obj(status, "the execution", fail)
        if str(status.get("status", "")).lower() != "succeeded":
            raw = status.get("exception")
            exception: dict[str, Any] = raw if isinstance(raw, dict) else {}
            raw = exception.get("details")
            details: dict[str, Any] = raw if isinstance(raw, dict) else {}
            detail = details.get("error") or exception.get("message") or status.get("status")
            raise self.http.error(QueryFailed, f"execution {execution} ended {status.get('status')}: {detail}", query)
        score = number(dig(status, "result", "judgeResult", "score", "score"), "the judge score", fail)
        if score is None:
            raise self.http.error(NoValuesFound, f"no values found (execution {execution} has no judge score)", query)
        return finite(score, "the judge score", fail)

    async def is_online(self) -> bool:
        """True when Kayenta's health endpoint says UP."""
        health = await self.http.json("GET", "/health")
        if not isinstance(health, dict) or health.get("status") != "UP":
            status = health.get("status") if isinstance(health, dict) else health
            raise self.http.error(ProviderUnreachable, f"health is {status!r}, not UP")
        return True
