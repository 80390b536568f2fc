"""How much memory this machine (or this container's memory limit) can still give a RAM-disk cache.

Files on a RAM disk are memory that nothing reclaims until they are deleted, so the frame cache asks
before each chunk it keeps: what is available now, less a share of the total kept free for everything
else (the workers' own chunks, the servers, other jobs).
"""

from __future__ import annotations

from pathlib import Path

MEMINFO = Path("/proc/meminfo")
# cgroup v2, then v1: the container's limit and what it uses now (v1's usage counts page cache too,
# which only makes the answer more careful).
CGROUP_FILES = (
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (
        Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        Path("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ),
)
# A cgroup "limit" at or above this is no limit (v1 writes 2**63 rounded down to a page).
NO_LIMIT = 1 << 60


def _meminfo(meminfo: Path) -> tuple[int, int] | None:
    """(MemTotal, MemAvailable) in bytes, or None where the file is missing or odd."""
    fields: dict[str, int] = {}
    try:
        for line in meminfo.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if len(fields) != 2:
        return None
    return fields["MemTotal"], fields["MemAvailable"]


def _cgroup(files: tuple[tuple[Path, Path], ...]) -> tuple[int, int] | None:
    """(limit, usage) in bytes of the first cgroup that sets a limit, or None."""
    for limit_file, usage_file in files:
        try:
            limit_text = limit_file.read_text().strip()
            if limit_text == "max":
                continue
            limit, usage = int(limit_text), int(usage_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if limit < NO_LIMIT:
            return limit, usage
    return None


def spare_memory_bytes(
    keep_free: float, meminfo: Path = MEMINFO, cgroups: tuple[tuple[Path, Path], ...] = CGROUP_FILES
) -> int:
    """Bytes that may still be taken while ``keep_free`` (a share, 0..1) of the total stays available.

    0 when the machine says nothing (no /proc/meminfo): no cache is then safer than an unbounded one.
    """
    machine = _meminfo(meminfo)
    if machine is None:
        return 0
    total, available = machine
    limited = _cgroup(cgroups)
    if limited is not None:
        limit, usage = limited
        total, available = min(total, limit), min(available, limit - usage)
    return max(0, available - int(keep_free * total))
