"""Every output format through the pipeline, as a user asks for it over HTTP: a transparent WebM, MOV and
PNG archive, each against `process`'s output for the same input — frames, rate, timestamps, audio, and
an alpha that matches (mp4 goes this way in test_main_path).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import httpx
import numpy as np
import pytest

from agents.extract import iter_frames, probe
from agents.runner import ProcessOptions, process
from agents.segment.backends import load_segmenter
from backdrop.api_client import api_client, download_output, follow, upload
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import JobCompleted, JobOptions, LifecycleEvent
from schemas.background import Transparent
from tests import clips
from tests.integration.api_fixtures import ApiProcess, new_api_key
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)
# "Its alpha matches process's output for the same input": the mean absolute difference, per clip.
MAX_MEAN_ALPHA_DIFFERENCE = 2 / 255


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two chunks at an NTSC rate, with sound."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_sample(path, seconds=3, width=320, height=180, fps=Fraction(30000, 1001))
    return path


@pytest.mark.parametrize("output_format", ["webm", "mov", "png"])
def test_transparent_outputs_match_process(
    workers: Settings, api: ApiProcess, clip: Path, tmp_path: Path, output_format: str
) -> None:
    suffix = {"webm": ".webm", "mov": ".mov", "png": ".zip"}[output_format]
    out = tmp_path / f"pipeline{suffix}"
    events: list[LifecycleEvent] = []
    key = new_api_key(workers, f"formats-{output_format}")
    with api_client(api.base_url, key.secret) as client:
        options = JobOptions(
            background="transparent", output_format=output_format, mask=output_format == "png"
        )
        job = upload(client, clip, options)
        final = follow(client, job["id"], events.append, timeout_s=300)
        assert isinstance(final, JobCompleted), final
        assert final.output_key.endswith(f"/output{suffix}")
        download_output(client, job["id"], out)
        artifacts = _artifacts(client, job["id"], tmp_path)
    assert final.cutout_keys == [], "a transparent output's heroes are cut-outs already"
    assert ("mask" in artifacts) == options.mask
    if options.mask:  # the matte, exactly the alpha of the lossless output
        masks = clips.read_rgba(artifacts["mask"])
        alphas = clips.read_rgba(out)
        assert len(masks) == len(alphas)
        for mask, alpha in zip(masks, alphas, strict=True):
            np.testing.assert_array_equal(mask[..., 0], alpha[..., 3])

    reference = tmp_path / ("process/frame_%06d.png" if output_format == "png" else f"process{suffix}")
    process(
        clip,
        reference,
        lambda: load_segmenter(cache_dir=workers.cache_dir, threads=1),
        ProcessOptions(background=Transparent()),
    )
    source = probe(clip)
    ours, theirs = clips.read_rgba(out), _reference_frames(reference)
    assert len(ours) == len(theirs) == source.frame_count
    difference = float(
        np.mean(
            [np.abs(a[..., 3].astype(np.int16) - b[..., 3]).mean() for a, b in zip(ours, theirs, strict=True)]
        )
    )
    log.info("%s: mean |alpha difference| to process %.3f/255", output_format, difference)
    assert difference < MAX_MEAN_ALPHA_DIFFERENCE * 255
    assert 0 < np.mean([f[..., 3].mean() for f in ours]) < 255, "the matte is neither empty nor full"
    if output_format == "png":
        with zipfile.ZipFile(out) as archive:
            assert "audio.m4a" in archive.namelist()
        return
    made, expected = probe(out), probe(reference)
    assert (made.fps, made.width, made.height) == (source.fps, source.width, source.height)
    assert made.duration_s == expected.duration_s
    assert made.audio is not None
    assert made.audio == expected.audio
    assert _timestamps(out) == _timestamps(reference)


def _artifacts(client: httpx.Client, job_id: str, folder: Path) -> dict[str, Path]:
    """The job's listed artifacts, the first of each kind, fetched through their presigned URLs."""
    fetched: dict[str, Path] = {}
    for artifact in client.get(f"/v1/jobs/{job_id}").json()["artifacts"]:
        if artifact["kind"] in fetched:
            continue
        path = folder / f"{artifact['kind']}{Path(artifact['key']).suffix}"
        response = httpx.get(artifact["url"], timeout=60)
        response.raise_for_status()
        path.write_bytes(response.content)
        fetched[artifact["kind"]] = path
    return fetched


def _reference_frames(reference: Path) -> list[np.ndarray]:
    if reference.suffix == ".png":
        return [clips.read_rgba_image(path) for path in sorted(reference.parent.glob("*.png"))]
    return clips.read_rgba(reference)


def _timestamps(path: Path) -> list[int]:
    return [int(p) for batch in iter_frames(path) for p in batch.pts]


@pytest.mark.parametrize(
    ("output_format", "background", "suffix"),
    [("png", "transparent", ".png"), ("webp", "transparent", ".webp"), ("jpg", "#2050a0", ".jpg")],
)
def test_a_still_gives_a_still_like_process(
    workers: Settings, api: ApiProcess, tmp_path: Path, output_format: str, background: str, suffix: str
) -> None:
    still = tmp_path / "portrait.png"
    write_sample(still, width=320, height=240)
    out = tmp_path / f"pipeline{suffix}"
    options = JobOptions(background=background, output_format=output_format, mask=True)
    key = new_api_key(workers, f"stills-{output_format}")
    with api_client(api.base_url, key.secret) as client:
        job = upload(client, still, options)
        final = follow(client, job["id"], lambda _: None, timeout_s=300)
        assert isinstance(final, JobCompleted), final
        assert final.output_key.endswith(f"/output{suffix}")
        assert final.metrics.frames == 1
        download_output(client, job["id"], out)
        artifacts = _artifacts(client, job["id"], tmp_path)
    opaque = output_format == "jpg"
    assert set(artifacts) == {"output", "mask", "hero", "poster"} | ({"cutout"} if opaque else set())
    mask = clips.read_rgba_image(artifacts["mask"])[..., 0]
    if opaque:  # the hero on the background, and cut out: the cut-out's alpha is the matte
        assert clips.read_rgba_image(artifacts["hero"]).shape == (240, 320, 4)
        np.testing.assert_array_equal(clips.read_rgba_image(artifacts["cutout"])[..., 3], mask)
    else:
        np.testing.assert_array_equal(clips.read_rgba_image(out)[..., 3], mask)

    reference = tmp_path / f"process{suffix}"
    process(
        still,
        reference,
        lambda: load_segmenter(cache_dir=workers.cache_dir, threads=1),
        ProcessOptions(background=options.background),
    )
    ours, theirs = clips.read_rgba_image(out), clips.read_rgba_image(reference)
    assert ours.shape == theirs.shape == (240, 320, 4)
    if output_format == "jpg":
        assert float(np.abs(ours.astype(np.int16) - theirs).mean()) < 1.0  # the same JPEG, or nearly
        assert (ours[..., 3] == 255).all()
    else:
        assert (
            float(np.abs(ours[..., 3].astype(np.int16) - theirs[..., 3]).mean())
            < MAX_MEAN_ALPHA_DIFFERENCE * 255
        )
        assert 0 < ours[..., 3].mean() < 255


def test_a_video_asked_for_a_still_format_fails_with_a_reason(
    workers: Settings, api: ApiProcess, clip: Path
) -> None:
    key = new_api_key(workers, "video-as-jpg")
    with api_client(api.base_url, key.secret) as client:
        job = upload(client, clip, JobOptions(background="white", output_format="jpg"))
        final = follow(client, job["id"], lambda _: None, timeout_s=120)
    assert final.event_type == "failed", final
    assert final.code == "input_unsupported"
    assert "mp4, webm, mov or png" in final.message
