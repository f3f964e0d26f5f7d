"""Every entry point the package declares loads (a typo or a missing class fails here, not in a user's daemon)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

GROUPS = ("aiida.workflows", "aiida.calculations", "aiida.parsers", "aiida.data", "console_scripts")


def _ours():
    for group in GROUPS:
        for entry_point in entry_points(group=group):
            if entry_point.value.startswith("aiida_clathrate"):
                yield pytest.param(entry_point, id=f"{group}:{entry_point.name}")


@pytest.mark.parametrize("entry_point", list(_ours()))
def test_entry_point_loads(entry_point):
    assert entry_point.load() is not None


def test_workflows_are_registered():
    names = {ep.name for ep in entry_points(group="aiida.workflows")}
    assert {"clathrate.harmonic", "clathrate.sscha", "clathrate.epc", "clathrate.compound"} <= names


def test_workflows_do_not_import_torch():
    """A daemon worker loads the work chains for every process; torch (about 1 s) only where an
    MLP is trained or evaluated, which runs in its own CalcJob."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "for ep in entry_points(group='aiida.workflows'):\n"
        "    if ep.value.startswith('aiida_clathrate'):\n"
        "        ep.load()\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
