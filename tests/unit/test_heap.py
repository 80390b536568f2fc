from __future__ import annotations

import platform
import subprocess
import sys


def test_malloc_takes_the_reuse_settings_on_glibc() -> None:
    # In a child process: the settings last for the life of the process that asks.
    code = "from base.heap import keep_freed_memory; print(keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    expected = "True" if platform.libc_ver()[0] == "glibc" else "False"
    assert out.strip() == expected
