from __future__ import annotations

from pathlib import Path

import pytest

from base.errors import ObjectRefused
from schemas import JobOptions, parse_background
from schemas.background import Asset, Image, Video
from streams.ownership import asset_prefix, with_assets
from streams.store import LocalStore

ASSET = "asset_7Hk2mQx9LpR4tV8wYb3cNz"


@pytest.fixture
def uploads(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "uploads")


def test_an_asset_spec_reads_and_writes_back() -> None:
    assert parse_background(f"asset:{ASSET}") == Asset(id=ASSET)
    assert parse_background(f"contain:asset:{ASSET}").spec == f"contain:asset:{ASSET}"
    with pytest.raises(ValueError, match="asset_"):
        parse_background("asset:../../etc")


@pytest.mark.parametrize(("name", "kind"), [("sea.png", Image), ("waves.mp4", Video)])
def test_an_asset_becomes_its_owners_object(uploads: LocalStore, name: str, kind: type) -> None:
    uploads.put_bytes(asset_prefix("key1", ASSET) + name, b"x")
    options = with_assets(
        JobOptions(background=f"contain:asset:{ASSET}"), "key1", uploads, "backdrop-uploads"
    )
    assert isinstance(options.background, kind)
    assert options.background.ref == f"s3://backdrop-uploads/owners/key1/assets/{ASSET}/{name}"
    assert options.background.fit == "contain"


@pytest.mark.parametrize("owner", ["key2", None])
def test_nobody_else_reaches_it(uploads: LocalStore, owner: str | None) -> None:
    uploads.put_bytes(asset_prefix("key1", ASSET) + "sea.png", b"x")
    with pytest.raises(ObjectRefused, match="POST /v1/assets"):
        with_assets(JobOptions(background=f"asset:{ASSET}"), owner, uploads, "backdrop-uploads")


def test_other_backgrounds_pass_unchanged(uploads: LocalStore) -> None:
    options = JobOptions(background="blur")
    assert with_assets(options, "key1", uploads, "backdrop-uploads") is options
