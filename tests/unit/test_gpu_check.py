"""infra/gpu/check.sh runs only on a GPU machine, lent rarely: what it calls must still exist when it does.

The first version of the script (../shared/gpu/gpu-check.sh) imported `backdrop.settings` after the settings
had moved to `base.settings`; on a GPU its fp16-against-CPU step would have died on that import.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "gpu" / "check.sh"
OURS = ("agents", "api", "backdrop", "base", "bench", "streams")


def _snippets() -> list[ast.Module]:
    """The Python files the script writes with ``cat >FILE <<'PYEOF'``."""
    bodies = re.findall(r"<<'PYEOF'\n(.*?)\nPYEOF\n", SCRIPT.read_text(), re.S)
    assert len(bodies) >= 3, "the script's Python snippets were not found"
    return [ast.parse(body) for body in bodies]


def _ours(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in OURS


def test_the_script_parses() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    subprocess.run([bash, "-n", str(SCRIPT)], check=True)


def test_a_dry_run_walks_every_step(tmp_path: Path) -> None:
    # DRY_RUN prints each step's command instead of running it: the script's own flow (set -u, budgets,
    # the install choices) is exercised without a GPU.
    bash = shutil.which("bash")
    assert bash is not None
    env = {**os.environ, "DRY_RUN": "1", "OUT_DIR": str(tmp_path / "out"), "VENV": str(tmp_path / "venv")}
    done = subprocess.run(
        [bash, str(SCRIPT)], cwd=SCRIPT.parents[2], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    steps = re.findall(r"^== \[\d+s\] ([\w-]+) ", done.stdout, re.M)
    assert {"install-project", "gpu-tests", "bench-tensorrt", "extra-accuracy", "codec-probe"} <= set(steps)
    assert "SKIPPED" not in done.stdout
    assert "unbound variable" not in done.stderr


def test_its_python_imports_what_exists_and_calls_it_as_it_is_defined() -> None:
    checked = 0
    for tree in _snippets():
        names: dict[str, object] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _ours(node.module):
                module = importlib.import_module(str(node.module))
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
                    names[alias.asname or alias.name] = getattr(module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if _ours(alias.name):
                        importlib.import_module(alias.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
                target = names[node.func.id]
                if not callable(target) or inspect.isclass(target):
                    continue
                # Bind placeholders: a renamed or removed parameter fails here, not on the GPU machine.
                inspect.signature(target).bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
                checked += 1
    assert checked >= 4


def test_the_modules_and_files_it_runs_exist() -> None:
    text = SCRIPT.read_text()
    modules = set(re.findall(r"-m (agents\.[\w.]+)", text))
    assert modules, "no `python -m` module found in the script"
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module
    for path in re.findall(r"(tests/[\w/]+\.py)", text):
        assert (SCRIPT.parents[2] / path).is_file(), path


def _help(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    return done.stdout


def _flags(pattern: str) -> set[str]:
    """The flags of every command line in the script that matches ``pattern`` (up to the line's end)."""
    lines = re.findall(pattern + r"([^\n]*)", SCRIPT.read_text())
    assert lines, pattern
    return {flag for line in lines for flag in re.findall(r"--[a-z][\w-]*", line)}


def test_backdrop_bench_takes_the_flags_it_is_given() -> None:
    used = _flags(r'"\$0" bench ')
    assert {"--size", "--backend", "--json"} <= used
    text = _help("-m", "backdrop", "bench")
    assert not {flag for flag in used if flag not in text}


def test_the_network_bench_takes_the_flags_it_is_given() -> None:
    used = _flags(r"-m agents\.segment\.bench ")
    assert {"--backend", "--device", "--batch"} <= used
    text = _help("-m", "agents.segment.bench")
    assert not {flag for flag in used if flag not in text}


def test_backdrop_models_fetch_exists() -> None:
    assert '/backdrop" models fetch' in SCRIPT.read_text()
    assert "Fetch" in _help("-m", "backdrop", "models", "fetch")
