"""What README.md states as a number or a name, checked against the code: changing one without the other
fails here.

The two tables (topics, configuration) are read from README itself; the numbers in its prose are pinned.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from pydantic import SecretStr

from agents.extract import Limits
from agents.runner import ProcessOptions
from agents.workers.context import CHUNK_SECONDS, WARMUP_FRAMES
from api.projector import BATCH
from api.webhook_signing import DELAYS_S
from base.settings import Settings
from streams.consumer_loop import consumer_config
from streams.liveness import MAX_BUSY_S, MAX_QUIET_S, STALL_AFTER_S, STALL_CHECK_S
from streams.topics import DAY_MS, INGEST, JOBS, STAGES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _table(heading: str) -> list[list[str]]:
    """The rows (cells, stripped) of the first table after ``heading``, without its header."""
    section = README.split(heading, 1)[1]
    lines: list[str] = []
    for line in section.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    assert lines, f"no table after {heading!r}"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _expand(names: str) -> list[str]:
    """`a.{b,c}` → [a.b, a.c]."""
    match = re.fullmatch(r"(.*)\{(.*)\}(.*)", names)
    if match is None:
        return [names]
    return [f"{match[1]}{part}{match[3]}" for part in match[2].split(",")]


def test_the_topics_table_is_what_infra_up_creates() -> None:
    declared = {spec.name: spec for spec in (*INGEST, JOBS, *STAGES)}
    documented = {}
    for name_cell, partitions, retention, _ in _table("### Topics"):
        for name in _expand(name_cell.strip("`")):
            documented[name] = (int(partitions), int(retention.removesuffix(" d")) * DAY_MS)
    assert documented == {name: (s.partitions, s.retention_ms) for name, s in declared.items()}


def _configuration() -> dict[str, str]:
    """README's Configuration table: each variable → the default written for it."""
    documented = {}
    for row in _table("## Configuration"):
        names, prefix = [], ""
        for name in re.findall(r"`(BACKDROP_[A-Z0-9_]+|_[A-Z0-9_]+)`", row[0]):
            if name.startswith("BACKDROP_"):
                prefix = name.rsplit("_", 1)[0]
                names.append(name)
            else:
                names.append(prefix + name)
        defaults = [value.strip() for value in row[1].split(",")]
        if len(defaults) != len(names):
            defaults = [row[1]] * len(names)  # one description for all
        documented.update(zip(names, defaults, strict=True))
    return documented


def _readme_value(text: str) -> object:
    """A default as README writes it: `literal`, none, N GiB, or a description (returned as is)."""
    if text == "none":
        return None
    if match := re.fullmatch(r"(\d+) GiB", text):
        return int(match[1]) * 1024**3
    if not re.fullmatch(r"`[^`]*`", text):
        return text
    literal = text.strip("`")
    if literal in {"true", "false"}:
        return literal == "true"
    if literal == "[]":
        return ()
    if re.fullmatch(r"\d+", literal):
        return int(literal)
    if re.fullmatch(r"\d+\.\d+", literal):
        return float(literal)
    return literal


def test_the_configuration_table_gives_the_real_defaults() -> None:
    checked = 0
    for variable, written in _configuration().items():
        expected = _readme_value(written)
        if isinstance(expected, str) and not written.startswith("`"):
            continue  # a description ("pinned pseudo-version", "under /dev/shm, …")
        field = Settings.model_fields[variable.removeprefix("BACKDROP_").lower()]
        if field.default is None and isinstance(expected, str):
            continue  # derived from other settings, e.g. API_URL from API_HOST and API_PORT
        actual = field.default
        actual = actual.get_secret_value() if isinstance(actual, SecretStr) else actual
        if isinstance(actual, Path):
            actual = str(actual).replace(str(Path.home()), "~")
        if isinstance(expected, str) and "<temp>" in expected:
            expected = expected.replace("<temp>", tempfile.gettempdir())
        assert actual == expected, f"{variable}: README says {written}, the default is {field.default!r}"
        checked += 1
    assert checked >= 30


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(_configuration())
    settings = {f"BACKDROP_{field.upper()}" for field in Settings.model_fields}
    assert settings - documented == set(), "settings missing from README's Configuration table"
    assert documented - settings == set(), "README documents settings that do not exist"


def test_the_input_limits_readme_quotes() -> None:
    # "over the limits (4096×4096, 240 fps, three hours, 20 GiB …)"
    limits = Limits()
    assert (limits.max_width, limits.max_height, limits.max_fps) == (4096, 4096, 240)
    assert (limits.max_duration_s, limits.max_bytes) == (3 * 3600, 20 * 1024**3)
    assert "4096×4096, 240 fps, three hours, 20 GiB" in README


def test_chunks_of_two_seconds_with_eight_warm_up_frames_in_both_paths() -> None:
    assert (CHUNK_SECONDS, WARMUP_FRAMES) == (2.0, 8)
    defaults = ProcessOptions()
    assert (defaults.chunk_seconds, defaults.warmup_frames) == (CHUNK_SECONDS, WARMUP_FRAMES)
    assert "~2 s chunks" in README
    assert "8 warm-up frames" in README


def test_liveness_numbers() -> None:
    # "has not polled for a minute or has been on one batch longer than `max.poll.interval` (15 min)"
    assert (MAX_QUIET_S, MAX_BUSY_S) == (60, 15 * 60)
    assert consumer_config(Settings(), "g")["max.poll.interval.ms"] == MAX_BUSY_S * 1000
    # "every 15 s while idle and, after a minute of waiting messages, …"
    assert (STALL_CHECK_S, STALL_AFTER_S) == (15, 60)


def test_projector_batch_and_webhook_schedule() -> None:
    assert BATCH == 500
    assert "(up to 500 events)" in README
    assert DELAYS_S == (5, 30, 120, 600, 3600)
    assert "5 s, 30 s, 2 min, 10 min, then hourly" in README


def test_consumer_groups_are_named_by_stage() -> None:
    settings = Settings()
    assert settings.consumer_group("segment") == "backdrop-segment"
    assert settings.consumer_group("projector") == "backdrop-projector"


def test_the_corpus_is_as_large_as_readme_says() -> None:
    from tests.corpus import CASES

    match = re.search(r"`tests/corpus.py` generates (\d+) such inputs", README)
    assert match is not None
    assert int(match[1]) == len(CASES)


def test_ci_runs_the_test_command_readme_gives() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    commands = re.search(r"```bash\nmake run[^\n]*\nmake test[^\n]*\n```", README)
    assert commands is not None, "README's two commands: make run, then make test"
    ci = (root / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "make test"
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^test: lint models\n\t\$\(BIN\)/pytest\n", makefile, re.MULTILINE)
    # "Tests treat warnings as errors."
    pytest_options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert pytest_options["filterwarnings"][0] == "error"


def test_the_kafka_readme_names_is_the_one_installed_and_composed() -> None:
    root = Path(__file__).resolve().parents[2]
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", (root / "infra/kafka/pom.xml").read_text())
    assert version is not None
    assert f"Apache Kafka {version[1]}, KRaft" in README
    assert f"image: apache/kafka:{version[1]}" in (root / "docker-compose.kafka.yml").read_text()


def test_the_quality_presets_table_is_the_encoders_settings() -> None:
    from agents.encode.writer import ENCODER_OPTIONS, PNG_COMPRESSION
    from agents.matte import MATTE_PRESETS

    rows = {row[0].strip("`"): row for row in _table("**Quality presets**")}
    assert set(rows) == {"draft", "standard", "high"}
    for preset, (_, x264, vp9, _prores, png, matte) in rows.items():
        h264, webm = ENCODER_OPTIONS["libx264"][preset], ENCODER_OPTIONS["libvpx-vp9"][preset]  # type: ignore[index]
        assert x264 == f"{h264['preset']}, CRF {h264['crf']}"
        assert vp9.startswith(f"{webm['deadline']}, cpu-used {webm['cpu-used']}, CRF {webm['crf']}")
        assert png == f"zlib {PNG_COMPRESSION[preset]}"  # type: ignore[index]
        if "px" in matte:
            assert f"{MATTE_PRESETS[preset].work_long_side} px" in matte  # type: ignore[index]
