from __future__ import annotations

from pathlib import Path

from agents.workers.spare_memory import spare_memory_bytes

GIB = 1 << 30


def _meminfo(folder: Path, total_kib: int, available_kib: int) -> Path:
    path = folder / "meminfo"
    path.write_text(
        f"MemTotal:       {total_kib} kB\nMemFree:        1 kB\nMemAvailable:   {available_kib} kB\n"
    )
    return path


def _cgroup(folder: Path, limit: str, usage: int) -> tuple[Path, Path]:
    (folder / "max").write_text(limit + "\n")
    (folder / "current").write_text(f"{usage}\n")
    return folder / "max", folder / "current"


def test_spare_is_what_is_available_less_the_share_kept_free(tmp_path: Path) -> None:
    meminfo = _meminfo(tmp_path, 16 * GIB // 1024, 10 * GIB // 1024)
    assert spare_memory_bytes(0.25, meminfo, ()) == 6 * GIB
    assert spare_memory_bytes(0.75, meminfo, ()) == 0  # never negative


def test_a_container_limit_bounds_the_spare(tmp_path: Path) -> None:
    meminfo = _meminfo(tmp_path, 64 * GIB // 1024, 60 * GIB // 1024)
    limited = _cgroup(tmp_path, str(8 * GIB), 3 * GIB)
    assert spare_memory_bytes(0.25, meminfo, (limited,)) == 5 * GIB - 2 * GIB
    unlimited = _cgroup(tmp_path, "max", 3 * GIB)
    assert spare_memory_bytes(0.25, meminfo, (unlimited,)) == 60 * GIB - 16 * GIB


def test_no_meminfo_means_nothing_to_spare(tmp_path: Path) -> None:
    assert spare_memory_bytes(0.25, tmp_path / "missing", ()) == 0
