"""``GET /v1/jobs/{id}/events``: a job's lifecycle as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import CallerDep, ServicesDep
from api.live import Announced
from api.models import Problem
from api.readmodel import MAX_BIGINT, events_after, get_job, is_terminal
from api.services import Services
from api.tables import TERMINAL_STATUSES

router = APIRouter(prefix="/v1/jobs", tags=["events"])
LastEventId = Annotated[
    str | None, Header(alias="Last-Event-ID", max_length=20, description="Resume after this event id.")
]


def sse_answer(description: str) -> dict[str, Any]:
    """The OpenAPI entry of an SSE stream's 200."""
    example = 'id: 41\nevent: accepted\ndata: {"job_id": "job_…"}\n\n'
    return {"content": {"text/event-stream": {"example": example}}, "description": description}


def sse(event_id: int, event_type: str, data: dict[str, Any]) -> ServerSentEvent:
    """One lifecycle event on the wire: ``id:`` the log id, ``event:`` its type, ``data:`` its JSON."""
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=event_type, id=str(event_id))


class JobStream:
    """Replays the log of one job, or of a batch's jobs, after a cursor, then follows the hub; ends once
    every job's terminal event is sent."""

    def __init__(
        self, svc: Services, job_ids: tuple[str, ...], after: int, ended: frozenset[str] = frozenset()
    ) -> None:
        """``ended``: jobs whose end the client saw before ``after``."""
        self.svc, self.job_ids, self.last = svc, job_ids, after
        self.ended: set[str] = set(ended)

    @property
    def done(self) -> bool:
        return len(self.ended) == len(self.job_ids)

    async def _from_table(self) -> AsyncIterator[ServerSentEvent]:
        # A fresh connection per read, never held while waiting for live events.
        while True:
            async with self.svc.reader.connect() as conn:
                rows = await events_after(conn, self.job_ids, self.last)
            for row in rows:
                yield self._sent(row.id, row.job_id, row.event_type, row.payload)
                if self.done:
                    return
            if len(rows) < 500:
                return

    def _sent(self, event_id: int, job_id: str, event_type: str, data: dict[str, Any]) -> ServerSentEvent:
        self.last = event_id
        if event_type in TERMINAL_STATUSES:
            self.ended.add(job_id)
        return sse(event_id, event_type, data)

    async def events(self, already_over: bool) -> AsyncIterator[ServerSentEvent]:
        # Subscribe before reading the table: an event committed in between is then in one or the other.
        first, *others = self.job_ids
        queue = self.svc.hub.subscribe(first)
        for job_id in others:
            self.svc.hub.subscribe(job_id, queue)
        try:
            async for event in self._from_table():
                yield event
            if self.done or already_over:
                # Over before we started and nothing left after the cursor: nothing will ever come.
                return
            while not self.done:
                update = await queue.get()
                if isinstance(update, Announced) and update.data is not None:
                    if update.id > self.last:
                        yield self._sent(update.id, update.job_id, update.event_type, update.data)
                else:
                    async for event in self._from_table():
                        yield event
        finally:
            for job_id in self.job_ids:
                self.svc.hub.unsubscribe(job_id, queue)


@router.get(
    "/{job_id}/events",
    responses={
        200: sse_answer("The job's lifecycle events; the stream ends after the terminal one."),
        404: {"model": Problem},
    },
    response_class=EventSourceResponse,
    summary="Follow a job's events live (SSE); resume with Last-Event-ID",
)
async def job_events(
    job_id: str,
    svc: ServicesDep,
    caller: CallerDep,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    after = checked_cursor(last_event_id)
    async with svc.reader.connect() as conn:
        row = await get_job(conn, job_id, caller.key_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id} for this key")
    stream = JobStream(svc, (job_id,), after)
    return counted_stream(svc, caller.key_id, stream.events(already_over=is_terminal(row["status"])))


def checked_cursor(last_event_id: str | None) -> int:
    """The event id a stream resumes after (0 for the start); 422 for anything it never sent."""
    if not last_event_id:
        return 0
    # isdigit alone lets through digits int() refuses, such as '²'; ids are bigints.
    if not (last_event_id.isascii() and last_event_id.isdigit()) or int(last_event_id) > MAX_BIGINT:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "Last-Event-ID must be an id this stream sent"
        )
    return int(last_event_id)


def counted_stream(svc: Services, key_id: str, events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """The SSE response, within the key's cap on open streams (429 past it)."""
    cap = svc.settings.sse_streams_per_key
    if svc.streams[key_id] >= cap:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"this key already follows {cap} event streams here; close one, or poll GET /v1/jobs/{{id}}",
            headers={"Retry-After": "5"},
        )
    return EventSourceResponse(
        _counted(svc, key_id, events),
        ping=svc.settings.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _counted(
    svc: Services, key_id: str, events: AsyncIterator[ServerSentEvent]
) -> AsyncIterator[ServerSentEvent]:
    """``events``, counted among the key's open streams while they flow."""
    svc.streams[key_id] += 1
    try:
        async for event in events:
            yield event
    finally:
        svc.streams[key_id] -= 1
        if svc.streams[key_id] <= 0:
            del svc.streams[key_id]
