"""Debian packages the local servers need: installed when we are root, asked for otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from base.errors import InfraError, MissingSystemPackage
from infra.steps import step

_apt_updated = False


def present(executable: str) -> bool:
    """An absolute path must exist; a bare name must be on PATH."""
    return Path(executable).exists() if os.path.isabs(executable) else shutil.which(executable) is not None


def ensure(needs: Mapping[str, str]) -> None:
    """``needs`` maps an executable to the Debian package that provides it."""
    missing = sorted({package for exe, package in needs.items() if not present(exe)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise MissingSystemPackage(
            f"missing Debian packages: {' '.join(missing)}. Install them with "
            f"`sudo apt-get install -y {' '.join(missing)}` and run the command again."
        )
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with step(f"installing {' '.join(missing)} with apt-get"):
        if not _apt_updated:
            _run(["apt-get", "update", "-qq"], env)
            _apt_updated = True
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env)


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InfraError(f"`{' '.join(argv)}` failed ({result.returncode}):\n{result.stderr[-2000:]}")
