from __future__ import annotations

import pytest

from base.errors import MissingSystemPackage
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
