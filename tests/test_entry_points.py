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
