"""A job's artifacts through the API, for clients that may not reach the object store: the web app
(which stays on its own origin) and anyone behind a firewall that lets only the API out."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Iterator

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.responses import StreamingResponse

from api.byte_ranges import UnsatisfiableRange, byte_range
from api.deps import CallerDep, ServicesDep
from api.routes.jobs import NOT_FOUND, job_or_404
from streams.store import job_prefix

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}/files/{name:path}",
    responses={**NOT_FOUND, 206: {"description": "The byte range asked for."}, 416: {}},
    response_class=StreamingResponse,
    summary="Download one of the job's artifacts (its `href`); byte ranges for seeking",
)
async def job_file(
    job_id: str,
    name: str,
    svc: ServicesDep,
    caller: CallerDep,
    range_header: str | None = Header(None, alias="Range", include_in_schema=False),
) -> Response:
    job = await job_or_404(svc, job_id, caller.key_id)
    key = job_prefix(job_id) + name
    if not any(artifact.key == key for artifact in job.artifacts):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} has no artifact {name!r}")
    size = await asyncio.to_thread(svc.artifacts.size, key)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{job_id}-{name.rsplit("/", 1)[-1]}"',
        "Cache-Control": "private, max-age=300",
    }
    try:
        wanted = byte_range(range_header, size)
    except UnsatisfiableRange:
        return Response(
            status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"}
        )
    first, last = wanted or (0, size - 1)
    if wanted:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    blocks: Iterator[bytes] = (
        await asyncio.to_thread(svc.artifacts.stream, key, first, last - first + 1) if size else iter(())
    )
    return StreamingResponse(
        blocks,  # a plain iterator: Starlette reads each block in its thread pool
        status_code=status.HTTP_206_PARTIAL_CONTENT if wanted else status.HTTP_200_OK,
        media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        headers=headers,
    )
