"""``keep_freed_memory``: freed large blocks stay in the process for reuse."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

SCRIPT = """
import os, sys
import numpy as np
from aiida_clathrate.mlp.allocator import keep_freed_memory

def resident_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

applied = keep_freed_memory() if sys.argv[1] == "keep" else None
before = resident_mb()
block = np.ones(64 * 2**20 // 8)  # 64 MB, above glibc's default mmap threshold
del block
print(applied, resident_mb() - before)
"""


def _kept_mb(mode: str) -> tuple[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], check=True, capture_output=True, text=True
    )
    applied, kept = out.stdout.split()
    return applied, float(kept)


@pytest.mark.skipif(not pathlib.Path("/proc/self/statm").exists(), reason="needs /proc")
def test_freed_blocks_stay_in_the_process():
    applied, kept = _kept_mb("keep")
    if applied != "True":
        pytest.skip("the C library has no mallopt (not glibc)")
    _, default = _kept_mb("default")
    assert default < 8  # glibc's default: the block was its own mmap, returned on free
    assert kept > 56  # kept for the next allocation (no page faults, no system calls)
