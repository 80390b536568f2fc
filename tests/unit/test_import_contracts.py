"""The layer contracts in pyproject.toml catch a forbidden import (`make lint` runs them on the real tree)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("base", "schemas", "agents", "streams", "api", "infra", "backdrop", "bench")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sources and their contracts, to break on purpose."""
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("agents/matte/refine.py", "import streams.topics", "Layers"),
        ("agents/matte/refine.py", "import confluent_kafka", "Stage cores do no I/O"),
        ("api/readmodel.py", "import agents.matte.refine", "The API reads the read model"),
        ("schemas/options.py", "import numpy", "Contracts and base import nothing heavy"),
        ("streams/codec.py", "import api.app", "Layers"),
        ("base/errors.py", "import schemas", "Layers"),
    ],
)
def test_a_forbidden_import_is_caught(tree: Path, module: str, line: str, contract: str) -> None:
    path = tree / module
    original = path.read_text()
    path.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = _lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    # the report wraps long contract names: read it as one line of words
    report = " ".join(result.stdout.split())
    assert re.search(rf"{re.escape(contract)}(?:(?!KEPT).)*? BROKEN", report), result.stdout
