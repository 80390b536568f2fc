from __future__ import annotations

import os
from pathlib import Path

import pytest

from base.errors import InfraError
from infra.processes import pid_alive, read_pid, spawn, stop_pid, stop_pids, wait_until


def test_spawn_records_pid_and_stop_ends_it(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "run" / "x.pid", tmp_path / "logs" / "x.log"
    pid = spawn(["sh", "-c", "echo started; exec sleep 60"], pid_file=pid_file, log_file=log_file)
    assert read_pid(pid_file) == pid
    wait_until(lambda: "started" in log_file.read_text(), timeout_s=5, what="sleeper")
    assert os.getsid(pid) == pid  # its own session: a Ctrl-C on our terminal does not reach it
    stop_pid(pid)
    assert not pid_alive(pid)
    assert read_pid(pid_file) is None


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    pid = spawn(
        ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"],
        pid_file=tmp_path / "p",
        log_file=tmp_path / "l",
    )
    wait_until(lambda: "ready" in (tmp_path / "l").read_text(), timeout_s=5, what="stubborn")
    stop_pid(pid, grace_s=0.5)
    assert not pid_alive(pid)


def test_stopping_several_asks_them_all_before_waiting_for_any(tmp_path: Path) -> None:
    # Each takes a second to finish after SIGTERM, as a worker finishing its message does: asked one after
    # the other, the last would hear of it two seconds after the first.
    pids = []
    for name in ("a", "b", "c"):
        script = (
            f"trap 'date +%s.%N > {tmp_path / name}.term; sleep 1; exit 0' TERM; "
            f"echo ready > {tmp_path / name}.ready; while :; do sleep 0.05; done"
        )
        pids.append(spawn(["sh", "-c", script], pid_file=tmp_path / f"{name}.pid", log_file=tmp_path / "l"))
    for name in ("a", "b", "c"):
        wait_until((tmp_path / f"{name}.ready").exists, timeout_s=5, what=name)
    stop_pids(pids, grace_s=10)
    assert not any(pid_alive(pid) for pid in pids)
    heard = [float((tmp_path / f"{name}.term").read_text()) for name in ("a", "b", "c")]
    assert max(heard) - min(heard) < 0.5


def test_spawn_of_a_missing_program_says_so(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="could not start"):
        spawn(["/nonexistent/server"], pid_file=tmp_path / "p", log_file=tmp_path / "l")


def test_wait_until_reports_the_log_tail_when_the_server_dies(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("line 1\nFATAL: port in use\n")
    with pytest.raises(InfraError, match="port in use"):
        wait_until(lambda: False, timeout_s=5, what="server", log_file=log, still_running=lambda: False)


def test_read_pid_ignores_garbage(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("not a pid")
    assert read_pid(tmp_path / "p") is None
    assert read_pid(tmp_path / "missing") is None
