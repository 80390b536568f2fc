"""Backgrounds a key owns: an image or video uploaded once, named by its id in any number of jobs."""

from __future__ import annotations

import asyncio
import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, File, HTTPException, UploadFile, status
from pydantic import BaseModel, Field

from api.deps import CallerDep, ServicesDep
from api.models import Problem
from api.routes.uploads import KeyBeforeBody, spooled_size
from api.services import Services
from schemas.background import ASSET_ID_PATTERN, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from schemas.common import new_id
from streams.ownership import ASSETS, asset_prefix, owner_prefix

router = APIRouter(prefix="/v1/assets", tags=["assets"], route_class=KeyBeforeBody)


class AssetOut(BaseModel):
    id: str = Field(
        description="Name it in a job's background: asset:ID.", examples=["asset_7Hk2mQx9LpR4tV8wYb3cNz"]
    )
    kind: Literal["image", "video"] = Field(description="What the file is, by its name.", examples=["image"])
    filename: str = Field(description="The name it was uploaded under.", examples=["beach.jpg"])
    size: int = Field(description="Bytes.", examples=[482133])
    background: str = Field(
        description="The background SPEC that uses it (add 'contain:' in front to letterbox it).",
        examples=["asset:asset_7Hk2mQx9LpR4tV8wYb3cNz"],
    )


def _asset(asset_id: str, key: str, size: int) -> AssetOut:
    name = PurePosixPath(key).name
    kind: Literal["image", "video"] = "image" if name.lower().endswith(IMAGE_SUFFIXES) else "video"
    return AssetOut(id=asset_id, kind=kind, filename=name, size=size, background=f"asset:{asset_id}")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={413: {"model": Problem}, 422: {"model": Problem}},
    summary="Upload an image or video background that this key owns",
)
async def upload_asset(
    svc: ServicesDep,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="An image or video, recognised by its name's suffix.")],
) -> AssetOut:
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in (file.filename or ""))[-128:]
    if not name.lower().endswith(IMAGE_SUFFIXES + VIDEO_SUFFIXES):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{file.filename!r} is neither an image ({' '.join(IMAGE_SUFFIXES)}) nor a video "
            f"({' '.join(VIDEO_SUFFIXES)}): name the file for what it is",
        )
    size = file.size if file.size is not None else await asyncio.to_thread(spooled_size, file)
    if size == 0:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the uploaded file is empty")
    asset_id = new_id("asset")
    key = asset_prefix(caller.key_id, asset_id) + name
    content_type = file.content_type or "application/octet-stream"
    await asyncio.to_thread(svc.uploads.put_stream, key, file.file, size, content_type)
    return _asset(asset_id, key, size)


@router.get("", summary="This key's assets")
async def list_assets(svc: ServicesDep, caller: CallerDep) -> list[AssetOut]:
    found = await asyncio.to_thread(svc.uploads.sizes, owner_prefix(caller.key_id) + ASSETS)
    assets = []
    for key, size in sorted(found.items()):
        asset_id = PurePosixPath(key).parent.name
        assets.append(_asset(asset_id, key, size))
    return assets


@router.delete(
    "/{asset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": Problem}},
    summary="Delete an asset (jobs already started keep their copy of the frames they read)",
)
async def delete_asset(asset_id: str, svc: ServicesDep, caller: CallerDep) -> None:
    keys = await _keys(svc, caller.key_id, asset_id)
    await asyncio.to_thread(svc.uploads.delete, keys)


async def _keys(svc: Services, owner: str, asset_id: str) -> list[str]:
    keys: list[str] = []
    if re.fullmatch(ASSET_ID_PATTERN, asset_id):
        keys = await asyncio.to_thread(svc.uploads.list, asset_prefix(owner, asset_id))
    if not keys:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {asset_id} for this key")
    return keys
