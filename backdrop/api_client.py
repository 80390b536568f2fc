"""The CLI's client of the HTTP API: upload a file, follow the job over SSE, download the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse
from pydantic import ValidationError

from base.errors import BackdropError
from schemas import LIFECYCLE_ADAPTER, TERMINAL_TYPES, JobOptions, LifecycleEvent

# How long a dropped stream waits before it reconnects (with Last-Event-ID, so nothing is missed).
RECONNECT_S = 1.0


class ApiError(BackdropError):
    code = "api_error"


def api_client(base_url: str, key: str, timeout_s: float = 60.0) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(timeout_s, connect=5.0),
    )


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ApiError(f"the API answered {response.status_code}: {detail}")
    body: dict[str, Any] = response.json()
    return body


def upload(
    client: httpx.Client, source: Path, options: JobOptions, webhook_url: str | None = None
) -> dict[str, Any]:
    """POST /v1/uploads: the file (streamed), its options and webhook; the new job."""
    form = {name: str(value) for name, value in options.model_dump(mode="json").items()}
    if webhook_url is not None:
        form["webhook_url"] = webhook_url
    with source.open("rb") as file:
        return _checked(
            client.post(
                "/v1/uploads",
                files={"file": (source.name, file, "application/octet-stream")},
                data=form,
            )
        )


def follow(
    client: httpx.Client,
    job_id: str,
    on_event: Callable[[LifecycleEvent], None],
    timeout_s: float,
) -> LifecycleEvent:
    """Read the job's SSE stream until its terminal event, reconnecting where a stream drops."""
    deadline = time.monotonic() + timeout_s
    last_id: str | None = None
    while time.monotonic() < deadline:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with connect_sse(client, "GET", f"/v1/jobs/{job_id}/events", headers=headers) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                    _checked(source.response)
                for sse in source.iter_sse():
                    if not sse.data:
                        continue
                    last_id = sse.id
                    try:
                        event = LIFECYCLE_ADAPTER.validate_json(sse.data)
                    except ValidationError:
                        continue  # a newer event type we do not know: not ours to judge
                    on_event(event)
                    if event.event_type in TERMINAL_TYPES:
                        return event
        except (httpx.TransportError, httpx.RemoteProtocolError):
            time.sleep(RECONNECT_S)
    raise ApiError(f"job {job_id} did not end within {timeout_s:.0f} s; follow it with GET /v1/jobs/{job_id}")


def download_output(client: httpx.Client, job_id: str, target: Path) -> None:
    """Fetch the job's output through the presigned URL the API lists."""
    job = _checked(client.get(f"/v1/jobs/{job_id}"))
    urls = [a["url"] for a in job["artifacts"] if a["kind"] == "output"]
    if not urls:
        raise ApiError(f"job {job_id} lists no output")
    target.parent.mkdir(parents=True, exist_ok=True)
    with httpx.stream("GET", urls[0], timeout=60) as response, target.open("wb") as out:
        response.raise_for_status()
        for block in response.iter_bytes(1 << 20):
            out.write(block)
