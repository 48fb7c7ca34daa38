"""Google Cloud Monitoring (MQL `timeSeries:query`) against a local server that plays both Google's OAuth token
endpoint and the Monitoring API, so the whole service-account flow runs: a signed JWT is exchanged for a token,
which then authorises the query."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from serinus.errors import AuthenticationFailed, NoValuesFound, QueryFailed
from serinus.metrics.registry import ProviderConfig, make_provider
from tests.integration.fakeapi import Call, FakeApi

pytestmark = pytest.mark.integration

PATH = "/v3/projects/shop-prod/timeSeries:query"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def secret(api: FakeApi) -> dict[str, str]:
    """The MetricTemplate Secret: project and a service-account JSON key whose token_uri is the local server."""
    pem = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "shop-prod",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "serinus@shop-prod.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{api.url}/token",
    }
    return {"project": "shop-prod", "serviceAccountKey": json.dumps(info)}


def token_endpoint(call: Call) -> tuple[int, Any]:
    """Google's token endpoint: a JWT-bearer grant whose assertion is signed by the service account's key."""
    form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, payload, signature = form["assertion"].split(".")
    KEY.public_key().verify(_b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    claims = json.loads(_b64(payload))
    assert claims["iss"] == "serinus@shop-prod.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/monitoring.read"
    return 200, {"access_token": "ya29.LOCAL-TOKEN", "expires_in": 3600, "token_type": "Bearer"}


def series(*values: float) -> dict[str, Any]:
    """The documented QueryTimeSeriesResponse shape, one point per value, newest first."""
    return {
        "timeSeriesDescriptor": {
            "labelDescriptors": [{"key": "resource.service_name"}],
            "pointDescriptors": [{"key": "value.request_count", "valueType": "DOUBLE"}],
        },
        "timeSeriesData": [
            {
                "labelValues": [{"stringValue": "web"}],
                "pointData": [
                    {
                        "values": [{"doubleValue": v}],
                        "timeInterval": {"startTime": "2024-01-01T00:00:00Z", "endTime": "2024-01-01T00:01:00Z"},
                    }
                    for v in values
                ],
            }
        ],
    }


async def test_service_account_token_then_mql_query(fake_api: FakeApi) -> None:
    """The key's JWT buys a token; the query is POSTed with it; the first point's value comes back."""
    fake_api.on("POST", "/token", token_endpoint)
    fake_api.on(
        "POST",
        PATH,
        lambda call: (
            (400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Query is empty"}})
            if not call.json()["query"]
            else (200, series(0.995, 0.5))
        ),
    )
    provider = make_provider(ProviderConfig("stackdriver", fake_api.url, secret=secret(fake_api)))
    try:
        assert await provider.is_online()
        mql = "fetch k8s_container | metric 'istio.io/service/server/request_count'\n | within 1m"
        assert await provider.query(mql) == 0.995
    finally:
        await provider.close()
    queries = [c for c in fake_api.calls if c.path == PATH]
    assert [c.json() for c in queries] == [{"query": ""}, {"query": " ".join(mql.split())}]
    assert all(c.headers["Authorization"] == "Bearer ya29.LOCAL-TOKEN" for c in queries)
    assert len([c for c in fake_api.calls if c.path == "/token"]) == 1  # the token is reused until it expires


async def test_empty_answer_and_rejected_query(fake_api: FakeApi) -> None:
    """No series is 'no values found'; Google's 400 for a bad query is a failed query with its message."""
    fake_api.on("POST", "/token", token_endpoint)
    fake_api.on("POST", PATH, (200, {"timeSeriesDescriptor": {}}))
    provider = make_provider(ProviderConfig("stackdriver", fake_api.url, secret=secret(fake_api)))
    try:
        with pytest.raises(NoValuesFound):
            await provider.query("fetch nothing")
        fake_api.on(
            "POST",
            PATH,
            (
                400,
                {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Line 1: Expected table operation"}},
            ),
        )
        with pytest.raises(QueryFailed, match="Expected table operation"):
            await provider.query("fetch nothing |")
    finally:
        await provider.close()


async def test_a_refused_service_account_is_an_authentication_failure(fake_api: FakeApi) -> None:
    """The token endpoint's invalid_grant is an authentication failure; the key never appears in it."""
    fake_api.on("POST", "/token", (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}))
    provider = make_provider(ProviderConfig("stackdriver", fake_api.url, secret=secret(fake_api)))
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await provider.query("fetch x")
    finally:
        await provider.close()
    assert "PRIVATE KEY" not in str(caught.value)
    assert not [c for c in fake_api.calls if c.path == PATH]
