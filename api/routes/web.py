"""The web app at ``/``: one page and its script and style, packaged with Backdrop (``api/web``).

The page reaches nothing but this origin: its Content-Security-Policy allows only 'self' (and the blob:
URLs it makes of the user's own files for the before/after view).
"""

from __future__ import annotations

import typing
from functools import cache
from pathlib import Path

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.services import Services
from schemas.background import DEFAULT_BLUR_SIGMA, IMAGE_SUFFIXES, MAX_BLUR_SIGMA, VIDEO_SUFFIXES
from schemas.graph import PipelineStage
from schemas.options import OPAQUE_FORMATS, JobOptions, Quality

WEB = Path(__file__).resolve().parent.parent / "web"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
router = APIRouter(include_in_schema=False)


def choices(svc: Services) -> dict[str, object]:
    """What the page offers, from the same declarations the API validates against."""
    formats = typing.get_args(JobOptions.model_fields["output_format"].annotation)
    return {
        "formats": list(formats),
        "opaque_formats": sorted(OPAQUE_FORMATS),
        "qualities": list(typing.get_args(Quality)),
        "stages": list(typing.get_args(PipelineStage)),
        "defaults": JobOptions().model_dump(mode="json"),
        "blur": {"default": DEFAULT_BLUR_SIGMA, "max": min(MAX_BLUR_SIGMA, 60.0)},
        "accept": [*IMAGE_SUFFIXES, *VIDEO_SUFFIXES],
        "image_suffixes": list(IMAGE_SUFFIXES),
        "upload_max_bytes": svc.settings.upload_max_bytes,
    }


@cache
def _page_template() -> str:
    return (WEB / "index.html").read_text()


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    svc: Services = request.app.state.services
    # The JSON sits in a non-executable script element; "</" is escaped so it cannot close the element.
    data = orjson.dumps(choices(svc)).decode().replace("</", "<\\/")
    return HTMLResponse(_page_template().replace("{{CHOICES}}", data), headers=PAGE_HEADERS)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/web", StaticFiles(directory=WEB), name="web")
