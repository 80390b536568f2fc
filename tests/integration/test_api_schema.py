"""Schemathesis over the API's OpenAPI document: no request the schema allows gets a 5xx.

The document is built in-process at collection time (schemathesis makes one test per operation from it
then) and checked equal to the one the live API serves; the requests all go to the live API.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from base.settings import Settings
from tests.integration.api_fixtures import ApiProcess, new_api_key

pytestmark = pytest.mark.integration

OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
# Every job id schemathesis can make up is unknown to its key, so the SSE route answers 404 at once;
# the timeout turns a stream that did stay open into a failure instead of a hang.
REQUEST_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def bearer(infra: Settings) -> dict[str, str]:
    """A valid key that no rate limit stops (the default would turn later examples into 429s)."""
    key = new_api_key(infra, "schemathesis", rate_limit=1_000_000)
    return {"Authorization": f"Bearer {key.secret}"}


def test_the_live_api_serves_this_document(api: ApiProcess) -> None:
    assert httpx.get(f"{api.base_url}/openapi.json", timeout=10).json() == OPENAPI


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors(case: schemathesis.Case[Any], api: ApiProcess, bearer: dict[str, str]) -> None:
    case.call_and_validate(
        base_url=api.base_url, headers=bearer, checks=[not_a_server_error], timeout=REQUEST_TIMEOUT_S
    )


# Inputs the schema allows that random generation seldom reaches; each one once answered 500.
NUL_ID = "job_%00abcdef"
EDGE_REQUESTS = [
    pytest.param("GET", f"/v1/jobs/{NUL_ID}", {}, None, id="NUL in a job id"),
    pytest.param("GET", f"/v1/jobs/{NUL_ID}/events", {}, None, id="NUL in a job id (SSE)"),
    pytest.param("POST", f"/v1/jobs/{NUL_ID}/cancel", {}, None, id="NUL in a job id (cancel)"),
    pytest.param(
        "GET", "/v1/jobs?cursor=czk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", {}, None, id="cursor past bigint"
    ),
    pytest.param(
        "GET",
        "/v1/jobs/job_abcdefgh/events",
        {b"Last-Event-ID": b"\xb2"},
        None,
        id="Last-Event-ID superscript 2",
    ),
    pytest.param("POST", "/v1/jobs", {}, {"source": {"object_key": "0" * 1024}}, id="key MinIO refuses"),
    pytest.param("POST", "/v1/jobs", {}, {"source": {"object_key": "a//b.mp4"}}, id="empty key segment"),
    pytest.param("POST", "/v1/uploads/presign", {}, {"filename": "a\x00.mp4"}, id="NUL in a filename"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), EDGE_REQUESTS)
def test_edge_inputs_are_refused_not_errors(
    api: ApiProcess,
    bearer: dict[str, str],
    method: str,
    path: str,
    headers: dict[bytes, bytes],
    body: dict[str, Any] | None,
) -> None:
    with httpx.Client(base_url=api.base_url, headers=bearer, timeout=REQUEST_TIMEOUT_S) as http:
        answer = http.request(method, path, headers=headers, json=body)
    assert 400 <= answer.status_code < 500, answer.text


def test_reused_idempotency_key_on_presign_is_a_422(api: ApiProcess, bearer: dict[str, str]) -> None:
    headers = {**bearer, "Idempotency-Key": f"presign-{uuid.uuid4()}"}
    with httpx.Client(base_url=api.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        first = http.post("/v1/uploads/presign", json={"filename": "a.mp4"})
        again = http.post("/v1/uploads/presign", json={"filename": "a.mp4"})
        other = http.post("/v1/uploads/presign", json={"filename": "b.mp4"})
    assert first.status_code == again.status_code == 202, first.text
    assert again.json()["job"]["id"] == first.json()["job"]["id"]
    assert other.status_code == 422, other.text


def test_last_event_id_past_bigint_is_a_422(api: ApiProcess, bearer: dict[str, str]) -> None:
    with httpx.Client(base_url=api.base_url, headers=bearer, timeout=REQUEST_TIMEOUT_S) as http:
        job = http.post("/v1/uploads/presign", json={"filename": "a.mp4"}).json()["job"]["id"]
        answer = http.get(f"/v1/jobs/{job}/events", headers={"Last-Event-ID": "9" * 20})
    assert answer.status_code == 422, answer.text
