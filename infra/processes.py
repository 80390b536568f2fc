"""Start servers detached, remember them by pid file, stop exactly those: the supervisor's mechanics."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from base.errors import InfraError


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (e.g. postgres started through runuser)
        return True
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state != "Z"


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def spawn(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``argv`` in its own session, output appended to ``log_file``; the pid goes to ``pid_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        # posix_spawn rather than Popen: the server must outlive us, and a Popen object would
        # complain when collected while its process still runs. setsid: a Ctrl-C in the
        # terminal that ran `infra up` does not reach the servers.
        pid = os.posix_spawnp(
            argv[0],
            list(argv),
            dict(env) if env is not None else dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise InfraError(f"could not start {argv[0]}: {exc.strerror}") from exc
    finally:
        os.close(log_fd)
    pid_file.write_text(f"{pid}\n")
    return pid


def stop_pid(pid: int, *, grace_s: float = 20.0) -> None:
    """SIGTERM, wait for a clean exit, SIGKILL after ``grace_s``."""
    stop_pids([pid], grace_s=grace_s)


def stop_pids(pids: Sequence[int], *, grace_s: float = 20.0) -> None:
    """SIGTERM them all at once, wait for each to exit cleanly, SIGKILL those still there after ``grace_s``:
    stopping ten workers takes as long as the slowest, not the sum."""
    left = _signal([pid for pid in pids if pid_alive(pid)], signal.SIGTERM)
    left = _wait_gone(left, grace_s)
    if not left:
        return
    left = _wait_gone(_signal(left, signal.SIGKILL), 5.0)
    if left:
        raise InfraError(f"processes {sorted(left)} did not exit after SIGKILL")


def _signal(pids: list[int], sig: signal.Signals) -> list[int]:
    sent = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.kill(pid, sig)
            sent.append(pid)
    return sent


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Those of ``pids`` still alive after up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        for pid in pids:
            _reap(pid)
        pids = [pid for pid in pids if pid_alive(pid)]
        if not pids or time.monotonic() >= deadline:
            return pids
        time.sleep(0.1)


def _reap(pid: int) -> None:
    # Our own children (started in this process) must be waited for or they linger as zombies.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    log_file: Path | None = None,
    still_running: Callable[[], bool] | None = None,
) -> None:
    """Poll ``check`` until it is true; fail with the log's tail if the time runs out or the server dies."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        if still_running is not None and not still_running():
            raise InfraError(f"{what} exited while starting.{_tail(log_file)}")
        if time.monotonic() > deadline:
            raise InfraError(f"{what} was not ready after {timeout_s:.0f} s.{_tail(log_file)}")
        time.sleep(0.25)


def _tail(log_file: Path | None, lines: int = 15) -> str:
    if log_file is None or not log_file.exists():
        return ""
    text = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"\nLast lines of {log_file}:\n" + "\n".join(text)
