"""The web app in a real browser (Debian's chromium, driven by Playwright) against the real pipeline: sign in,
upload, live progress to completion, before/after, downloads that decode; a still to a transparent PNG;
at phone width, signed in from `make run`'s link, a batch on an owned background where one file fails and
says why. Every visit makes only same-origin requests and logs no console error. Screenshots land in
.backdrop/test-artifacts/web/ (the README's come from there)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from agents.extract import probe
from backdrop.sample import write_sample
from base.settings import Settings
from infra import system_packages
from tests import clips
from tests.integration.api_fixtures import ApiProcess, new_api_key
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".backdrop" / "test-artifacts" / "web"
JOB_TIMEOUT_MS = 240_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    system_packages.ensure({CHROMIUM: "chromium"})  # apt-get as root (CI); otherwise it says what to run
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Visit:
    page: Page
    origin: str
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=SCREENSHOTS / name, full_page=True)


@contextmanager
def visit(browser: Browser, base_url: str, **context: object) -> Iterator[Visit]:
    """A fresh browser profile on the app; on leaving, every request was same-origin, no console error."""
    page = browser.new_context(accept_downloads=True, **context).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(30_000)
    seen = Visit(page, base_url)
    page.on("request", lambda r: _check_origin(seen, r.url))
    page.on("console", lambda m: seen.problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.problems.append(f"page error: {e}"))
    try:
        yield seen
    finally:
        page.context.close()
    assert seen.foreign == [], "the page reached beyond its origin"
    assert seen.problems == []


def _check_origin(seen: Visit, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ws", "wss") and f"{parts.scheme}://{parts.netloc}" != seen.origin:
        seen.foreign.append(url)


def _sign_in(page: Page, secret: str) -> None:
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New job")).to_be_visible()


def test_a_video_from_upload_to_download(
    workers: Settings, api: ApiProcess, chromium: Browser, tmp_path: Path
) -> None:
    clip = tmp_path / "sample.mp4"
    write_sample(clip, seconds=3, width=640, height=360)
    key = new_api_key(workers, "web-video")
    with visit(chromium, api.base_url, viewport={"width": 1100, "height": 900}) as seen:
        page = seen.page
        page.goto(api.base_url + "/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        seen.screenshot("sign-in.png")
        _sign_in(page, key.secret)

        page.set_input_files("#files", clip)
        expect(page.locator("#chosen")).to_contain_text("sample.mp4")
        page.get_by_role("button", name="Start", exact=True).click()
        card = page.locator(".job").first
        expect(card.locator(".stages li").first).to_be_visible(timeout=JOB_TIMEOUT_MS)
        seen.screenshot("progress.png")

        expect(card.locator(".status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
        expect(card.locator(".numbers")).to_contain_text("100%")
        rows = card.locator(".stages li")
        stages = rows.evaluate_all("rows => rows.map(r => [r.dataset.stage, r.lastElementChild.textContent])")
        assert {"segment", "matte", "composite", "encode", "assemble"} <= {stage for stage, _ in stages}
        for stage, counts in stages:
            done, total = counts.split("/")
            assert done == total, f"{stage} ended at {counts}"

        # Before and after, both playing the same clip; the split moves by keyboard.
        compare = card.locator(".compare")
        expect(compare).to_be_visible()
        page.wait_for_function(
            "card => [...card.querySelectorAll('.frame video')].length === 2 && "
            "[...card.querySelectorAll('.frame video')].every(v => v.readyState >= 2)",
            arg=card.element_handle(),
        )
        split = card.locator(".split")
        split.focus()
        for _ in range(20):
            page.keyboard.press("ArrowLeft")
        assert card.locator(".frame").evaluate("f => f.style.getPropertyValue('--split')") == "30%"
        seen.screenshot("result.png")

        with page.expect_download() as download:
            card.locator("a[data-kind=output]").click()
        out = tmp_path / "from-browser.mp4"
        download.value.save_as(out)
        expect(page.locator("#job-rows")).to_contain_text(card.locator("h3").inner_text().split(" · ")[1])
    made = probe(out)
    assert made.frame_count == probe(clip).frame_count
    assert len(clips.read_rgba(out)) == made.frame_count


def test_an_image_gives_a_transparent_png(
    workers: Settings, api: ApiProcess, chromium: Browser, tmp_path: Path
) -> None:
    still = tmp_path / "portrait.png"
    write_sample(still, width=480, height=360)
    key = new_api_key(workers, "web-still")
    with visit(chromium, api.base_url, viewport={"width": 1100, "height": 900}) as seen:
        page = seen.page
        page.goto(api.base_url + "/")
        # By keyboard alone: the key, Enter.
        page.get_by_label("API key").focus()
        page.keyboard.type(key.secret)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="New job")).to_be_visible()

        page.set_input_files("#files", still)
        page.get_by_label("Transparent").check()
        expect(page.get_by_label("Output format")).to_have_value("png")  # chosen for the user: it keeps alpha
        page.get_by_role("button", name="Start", exact=True).click()
        card = page.locator(".job").first
        expect(card.locator(".status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
        expect(card.locator(".frame img")).to_have_count(2)  # the upload, and the cut-out on a checkerboard
        expect(card.locator(".layer.after.checker img")).to_be_visible()
        seen.screenshot("still.png")
        with page.expect_download() as download:
            card.locator("a[data-kind=output]").click()
        out = tmp_path / "from-browser.png"
        download.value.save_as(out)
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert image.shape == (360, 480, 4)
    alpha = image[..., 3]
    assert alpha.min() == 0, "the background is transparent"
    assert alpha.max() == 255, "the person is opaque"


def test_a_phone_batch_on_an_owned_background_says_why_one_file_failed(
    workers: Settings, api: ApiProcess, chromium: Browser, tmp_path: Path
) -> None:
    broken = tmp_path / "holiday.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    portrait = tmp_path / "portrait.png"
    write_sample(portrait, width=320, height=240)
    backdrop = tmp_path / "sea.png"
    cv2.imwrite(str(backdrop), np.full((90, 160, 3), (200, 80, 40), np.uint8))
    key = new_api_key(workers, "web-phone")
    with visit(chromium, api.base_url, viewport=PHONE, is_mobile=True) as seen:
        page = seen.page
        page.goto(f"{api.base_url}/#key={key.secret}")  # the address `make run` prints
        expect(page.get_by_role("heading", name="New job")).to_be_visible()
        assert key.secret not in page.url, "the key leaves the address bar"

        page.set_input_files("#files", [broken, portrait])  # two files: one batch
        page.get_by_label("My image or video").check()
        page.set_input_files("#asset", backdrop)
        page.get_by_role("button", name="Start", exact=True).click()
        failed = page.locator(".job", has_text="holiday.mp4")
        expect(failed.locator(".status")).to_have_text("failed", timeout=JOB_TIMEOUT_MS)
        reason = failed.get_by_role("alert")
        expect(reason).to_contain_text("This job failed at the extract stage: the input is not a media file")
        assert "/tmp" not in reason.inner_text(), "the reason names the upload, not a scratch path"
        done = page.locator(".job", has_text="portrait.png")
        expect(done.locator(".status")).to_have_text("completed", timeout=JOB_TIMEOUT_MS)
        expect(done.locator(".layer.after img")).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide at phone width"
        seen.screenshot("phone-batch.png")
        page.get_by_label("Status").select_option("failed")
        expect(page.locator("#job-rows tr")).to_have_count(1)
        expect(page.locator("#job-rows")).to_contain_text("failed")
        with page.expect_download() as download:
            done.locator("a[data-kind=output]").click()
        out = tmp_path / "on-the-sea.png"
        download.value.save_as(out)
    corner = cv2.imread(str(out))[2, 2]
    assert np.abs(corner.astype(int) - (200, 80, 40)).max() <= 8, f"the owned background is behind: {corner}"
