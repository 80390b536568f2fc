from __future__ import annotations

import subprocess

import pytest

from base.errors import InfraError, MissingSystemPackage
from infra import system_packages


def test_present_checks_paths_and_path_lookup() -> None:
    assert system_packages.present("sh")
    assert not system_packages.present("/nonexistent/bin/postgres")


def test_not_root_gets_the_command_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_packages.os, "geteuid", lambda: 1000)
    with pytest.raises(MissingSystemPackage, match=r"`sudo apt-get install -y postgresql-15`"):
        system_packages.ensure({"/nonexistent/bin/postgres": "postgresql-15", "sh": "dash"})


def test_nothing_missing_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_packages.os, "geteuid", lambda: 1000)
    system_packages.ensure({"sh": "dash"})


def test_root_installs_what_is_missing_with_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    # README: "Debian packages are installed when you run as root".
    ran: list[list[str]] = []

    def run(argv: list[str], **options: object) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        assert options["env"]["DEBIAN_FRONTEND"] == "noninteractive"  # type: ignore[index]
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(system_packages.os, "geteuid", lambda: 0)
    monkeypatch.setattr(system_packages.subprocess, "run", run)
    monkeypatch.setattr(system_packages, "_apt_updated", False)
    system_packages.ensure(
        {"/nonexistent/bin/postgres": "postgresql-15", "/nonexistent/redis": "redis-server"}
    )
    system_packages.ensure({"/nonexistent/postgres": "postgresql-15"})
    assert ran == [
        ["apt-get", "update", "-qq"],  # once per process
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql-15", "redis-server"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql-15"],
    ]


def test_a_failed_install_says_what_apt_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_packages.os, "geteuid", lambda: 0)
    monkeypatch.setattr(system_packages, "_apt_updated", True)
    monkeypatch.setattr(
        system_packages.subprocess,
        "run",
        lambda argv, **_: subprocess.CompletedProcess(argv, 100, "", "E: Unable to locate package x"),
    )
    with pytest.raises(InfraError, match="Unable to locate package x"):
        system_packages.ensure({"/nonexistent/x": "x"})
