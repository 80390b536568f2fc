"""README: "The runtime dependencies are exactly what runtime code imports" — every third-party module
that runtime code imports comes from a distribution pyproject.toml declares (a fresh `pip install .`
would otherwise fail at the first import), and `bench/` only adds its own extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("base", "schemas", "streams", "agents", "api", "infra", "backdrop")
OURS = {*RUNTIME, "bench", "tests"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _with_extras(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` name, and those their extras bring (uvicorn[standard] → uvloop)."""
    names = set()
    for requirement in requirements:
        names.add(_name(requirement))
        for extra in re.findall(r"\[([^\]]+)\]", requirement.split(";")[0])[:1]:
            wanted = {item.strip() for item in extra.split(",")}
            for brought in requires(_name(requirement)) or []:
                if any(re.search(rf"extra == [\"']{name}[\"']", brought) for name in wanted):
                    names.add(_name(brought))
    return names


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - OURS - set(sys.stdlib_module_names) - {"__future__"}


def _undeclared(packages: tuple[str, ...], declared: set[str]) -> dict[str, list[str]]:
    distributions = packages_distributions()
    missing = {}
    for module in sorted(set().union(*(_imports(package) for package in packages))):
        names = {name.lower().replace("_", "-") for name in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(names)
    return missing


def test_runtime_code_imports_only_declared_distributions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _with_extras(project["dependencies"])
    gpu = {_name(requirement) for requirement in project["optional-dependencies"]["gpu"]}
    # TensorRT is imported only where a GPU is found (agents/segment/tensorrt_backend.py), from [gpu].
    assert _undeclared(RUNTIME, runtime | gpu) == {}
    bench = {_name(requirement) for requirement in project["optional-dependencies"]["bench"]}
    assert _undeclared(("bench",), runtime | bench) == {}
