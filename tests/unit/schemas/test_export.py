"""The checked-in JSON Schema files match the models; ``export --check`` catches drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.__main__ import main
from schemas.export import JSON_DIR, expected_files, export

NAMES = ["lifecycle-event.v1.json", "stage-event.v1.json", "submit-job.v1.json"]


def test_checked_in_files_match_the_models() -> None:
    assert sorted(expected_files()) == NAMES
    drift = export(JSON_DIR, check=True)
    assert drift == [], f"run `python -m schemas export` and commit: {drift}"


def test_no_stale_schema_files_linger() -> None:
    assert sorted(path.name for path in JSON_DIR.iterdir()) == NAMES


def test_export_is_deterministic_sorted_json() -> None:
    for name, content in expected_files().items():
        assert content == expected_files()[name]
        assert content.endswith("}\n")
        parsed = json.loads(content)
        assert content == json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert parsed["$schema"].startswith("https://json-schema.org/")


def test_check_lists_what_differs_and_export_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--dir", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == NAMES
    assert main(["export", "--check", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()

    edited = tmp_path / "stage-event.v1.json"
    edited.write_text(edited.read_text().replace('"ChunkTask"', '"ChunkJob"'))
    (tmp_path / "submit-job.v1.json").unlink()
    assert main(["export", "--check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "stage-event.v1.json" in out
    assert "submit-job.v1.json" in out
    assert "lifecycle-event.v1.json" not in out
    assert not (tmp_path / "submit-job.v1.json").exists()  # --check writes nothing

    assert main(["export", "--dir", str(tmp_path)]) == 0
    assert main(["export", "--check", "--dir", str(tmp_path)]) == 0
