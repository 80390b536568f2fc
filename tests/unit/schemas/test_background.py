"""The background SPEC: one grammar into one typed value, and back to the same canonical string."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas import Background, JobOptions, parse_background, parse_submit
from schemas.background import Blur, Colour, Image, Transparent, Video
from tests.unit.schemas.conftest import EVENTS_V1
from tests.unit.schemas.test_versions import EXPECTED


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("#102030", Colour(rgb=(16, 32, 48))),
        ("#0f0", Colour(rgb=(0, 255, 0))),
        ("white", Colour(rgb=(255, 255, 255), name="white")),
        ("ForestGreen", Colour(rgb=(34, 139, 34), name="forestgreen")),
        ("transparent", Transparent()),
        (" Transparent ", Transparent()),
        ("blur", Blur(sigma=12.0)),
        ("blur:3.5", Blur(sigma=3.5)),
        ("BLUR:200", Blur(sigma=200.0)),
        ("beach.jpg", Image(ref="beach.jpg")),
        ("contain:/srv/bg/poster.PNG", Image(ref="/srv/bg/poster.PNG", fit="contain")),
        ("cover:beach.webp", Image(ref="beach.webp")),
        ("waves.mp4", Video(ref="waves.mp4")),
        ("contain:waves.mov", Video(ref="waves.mov", fit="contain")),
        ("s3://backdrop-uploads/bg/beach.jpg", Image(ref="s3://backdrop-uploads/bg/beach.jpg")),
        ("s3://backdrop-uploads/bg/waves.mp4", Video(ref="s3://backdrop-uploads/bg/waves.mp4")),
    ],
)
def test_each_kind_parses_into_its_typed_value(spec: str, expected: Background) -> None:
    assert parse_background(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-colour", r"unknown background .*#RRGGBB"),
        ("#12345", r"unknown background .*#RRGGBB"),
        ("", r"unknown background"),
        ("blur:fast", r"bad blur strength 'fast'"),
        ("blur:1e3", r"bad blur strength"),
        ("blur:0", r"blur sigma must be in \(0, 200\]; got 0"),
        ("blur:200.5", r"blur sigma must be in \(0, 200\]"),
        ("notes.txt", r"needs an image suffix \(.png .* or a video suffix \(.mp4"),
        ("s3://backdrop-uploads/notes.txt", r"needs an image suffix"),
        ("contain:white", r"'white' needs an image suffix"),
        ("s3://Bad_Bucket/beach.jpg", r"is not s3://BUCKET/KEY"),
        ("s3://backdrop-uploads/a b.jpg", r"is not s3://BUCKET/KEY"),
    ],
)
def test_bad_specs_say_what_is_accepted(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_background(spec)


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("blur", "blur"),
        ("blur:12", "blur"),
        ("BLUR:2.50", "blur:2.5"),
        ("blur:20", "blur:20"),
        ("blur:0.00001", "blur:0.00001"),
        ("#00FF00", "#00FF00"),
        ("#0f0", "#00FF00"),
        ("White", "white"),
        ("Transparent", "transparent"),
        ("cover:s3://backdrop-uploads/bg/beach.jpg", "s3://backdrop-uploads/bg/beach.jpg"),
        ("contain:s3://backdrop-uploads/bg/poster.PNG", "contain:s3://backdrop-uploads/bg/poster.PNG"),
    ],
)
def test_spec_is_canonical_and_reads_back(spec: str, canonical: str) -> None:
    background = parse_background(spec)
    assert background.spec == canonical
    assert parse_background(canonical) == background


def test_every_example_string_round_trips() -> None:
    examples = JobOptions.model_fields["background"].examples or []
    assert len(examples) >= 5
    for example in examples:
        output_format = "webm" if example == "transparent" else "mp4"
        options = JobOptions.model_validate_json(
            json.dumps({"background": example, "output_format": output_format})
        )
        assert options.model_dump(mode="json")["background"] == example
        assert JobOptions.model_validate_json(options.model_dump_json()) == options


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_frozen_events_write_their_background_back_unchanged(name: str) -> None:
    parse: Callable[[str], BaseModel] = EXPECTED[name][0]
    text = (EVENTS_V1 / name).read_text()
    given = json.loads(text).get("options", {}).get("background", "blur")  # absent: the default
    written = parse(text).model_dump(mode="json")
    assert written.get("options", {"background": given})["background"] == given


def test_the_frozen_events_hold_every_kind_of_string() -> None:
    found = {spec for path in EVENTS_V1.glob("*.json") for spec in _backgrounds(json.loads(path.read_text()))}
    assert {"#00FF00", "blur:20", "s3://backdrop-uploads/backgrounds/beach.jpg", "transparent"} <= found


def test_frozen_submit_event_carries_the_typed_background() -> None:
    event = parse_submit((EVENTS_V1 / "submit-object.json").read_bytes())
    assert event.options.background == Colour(rgb=(0, 255, 0))
    assert json.loads(event.model_dump_json())["options"]["background"] == "#00FF00"


def test_object_ref_gives_bucket_and_key_and_a_path_gives_none() -> None:
    stored = parse_background("contain:s3://backdrop-uploads/bg/2025/poster.png")
    assert isinstance(stored, Image)
    assert stored.s3_object == ("backdrop-uploads", "bg/2025/poster.png")
    local = parse_background("/srv/bg/waves.mp4")
    assert isinstance(local, Video)
    assert local.s3_object is None


def test_job_options_take_the_typed_value_and_refuse_local_files() -> None:
    assert JobOptions(background=Blur(sigma=3.0)).model_dump(mode="json")["background"] == "blur:3"
    assert JobOptions().background == Blur()
    with pytest.raises(ValidationError, match=r"local file, which the pipeline cannot read.*s3://BUCKET/KEY"):
        JobOptions(background="/home/me/beach.jpg")
    with pytest.raises(ValidationError, match=r"a background is a SPEC string"):
        JobOptions.model_validate({"background": {"kind": "blur", "sigma": 3}})


def test_the_json_schema_still_describes_a_string() -> None:
    schema = JobOptions.model_json_schema()["properties"]["background"]
    assert (schema["type"], schema["default"]) == ("string", "blur")


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        (Colour, {"rgb": (255, 255, 255), "name": "black"}),
        (Colour, {"rgb": (256, 0, 0)}),
        (Blur, {"sigma": 0}),
        (Blur, {"sigma": 201}),
        (Image, {"ref": "waves.mp4"}),
        (Video, {"ref": "beach.jpg"}),
        (Image, {"ref": "beach.jpg", "fit": "stretch"}),
    ],
)
def test_typed_values_hold_the_same_rules(kind: type[BaseModel], fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        kind.model_validate(fields)


def _backgrounds(value: Any) -> Iterator[str]:
    """Every ``background`` string anywhere in an event."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "background" and isinstance(item, str):
                yield item
            else:
                yield from _backgrounds(item)
    elif isinstance(value, list):
        for item in value:
            yield from _backgrounds(item)
