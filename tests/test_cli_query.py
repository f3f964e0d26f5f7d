"""``aiida-clathrate query``: the table lists exactly the tagged compounds matching the filters."""

from __future__ import annotations

import re

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root
from aiida_clathrate.query import COMPOUNDS_GROUP, STABLE_GROUP, tag_compound

MUSTAR = [0.10, 0.13, 0.15]


@pytest.fixture(scope="module")
def tagged(aiida_profile):
    """Five tagged nodes (fresh groups) plus one node with extras but outside the groups."""
    for label in (COMPOUNDS_GROUP, STABLE_GROUP):
        for group in orm.QueryBuilder().append(orm.Group, filters={"label": label}).all(flat=True):
            orm.Group.collection.delete(group.pk)
    specs = {
        "SrB3C3": dict(
            pair=["Sr"],
            pressure_gpa=0.0,
            stability_category="stable",
            stable=True,
            tc_harmonic_kelvin=[19.0, 16.0, 14.0],
            tc_anharmonic_kelvin=[25.0, 22.0, 20.0],
            lambda_harmonic=0.81,
            lambda_anharmonic=0.93,
        ),
        "KRbB6C6": dict(
            pair=["K", "Rb"],
            pressure_gpa=0.0,
            stability_category="stable",
            stable=True,
            tc_anharmonic_kelvin=[87.0, 80.0, 76.0],
            lambda_anharmonic=1.6,
        ),
        "KPbB6C6": dict(
            pair=["K", "Pb"],
            pressure_gpa=0.0,
            stability_category="stable",
            stable=True,
            tc_harmonic_kelvin=[88.0, 82.0, 78.0],
            tc_anharmonic_kelvin=[77.0, 72.0, 69.0],
            lambda_harmonic=1.91,
            lambda_anharmonic=1.52,
        ),
        "RbB3C3": dict(
            pair=["Rb"],
            pressure_gpa=15.0,
            stability_category="stable",
            stable=True,
            tc_anharmonic_kelvin=[98.0, 92.0, 88.0],
        ),
        "CsBaB6C6": dict(
            pair=["Cs", "Ba"],
            pressure_gpa=0.0,
            stability_category="flat_soft_modes",
            stable=False,
            tc_anharmonic_kelvin=[95.0, 90.0, 85.0],
        ),
    }
    nodes = {}
    for name, values in specs.items():
        nodes[name] = orm.WorkflowNode().store()
        tag_compound(nodes[name], mustar=MUSTAR, **values)
    outsider = orm.WorkflowNode().store()  # right extras, not in the group: must never show
    outsider.base.extras.set_many(
        {"stable": True, "pressure_gpa": 0.0, "tc_anharmonic_max_kelvin": 500.0}
    )
    return nodes


def _listed(output: str) -> list[tuple[int, str, float | None]]:
    """(pk, formula, Tc) of the table rows, in printed order."""
    rows = []
    for line in output.splitlines():
        match = re.match(r"^\s*(\d+)\s+([A-Z]\w*)\s+[\d.]+\s+-?[\d.]+\s+\S+\s+\S+\s+(\S+)$", line)
        if match:
            tc = None if match.group(3) == "-" else float(match.group(3))
            rows.append((int(match.group(1)), match.group(2), tc))
    return rows


def _query(*args: str):
    result = CliRunner().invoke(cmd_root, ["query", *args])
    assert result.exit_code == 0, result.output
    return result.output, _listed(result.output)


def test_stable_zero_pressure_above_77(tagged):
    output, rows = _query("--stable", "--tc-min", "77", "--pressure", "0")
    assert rows == [(tagged["KRbB6C6"].pk, "KRbB6C6", 87.0)]  # KPbB6C6: 77.0 is not above
    assert "1 compound(s)" in output and "largest over mu*" in output


def test_all_compounds_highest_tc_first(tagged):
    _, rows = _query()
    assert [name for _, name, _ in rows] == ["RbB3C3", "CsBaB6C6", "KRbB6C6", "KPbB6C6", "SrB3C3"]
    assert {pk for pk, _, _ in rows} == {node.pk for node in tagged.values()}


def test_mustar_harmonic_and_unstable(tagged):
    _, rows = _query("--mustar", "0.13", "--tc-min", "79")
    assert [(name, tc) for _, name, tc in rows] == [
        ("RbB3C3", 92.0),
        ("CsBaB6C6", 90.0),
        ("KRbB6C6", 80.0),
    ]
    output, rows = _query("--branch", "harmonic", "--tc-min", "15")
    assert [(name, tc) for _, name, tc in rows] == [("KPbB6C6", 88.0), ("SrB3C3", 19.0)]
    assert "1.910" in output and "1.520" not in output  # the harmonic lambda beside the harmonic Tc
    _, rows = _query("--unstable")
    assert [name for _, name, _ in rows] == ["CsBaB6C6"]
    _, rows = _query("--pressure", "15", "--stable")
    assert [name for _, name, _ in rows] == ["RbB3C3"]


def test_no_match_and_bad_mustar(tagged):
    output, rows = _query("--tc-min", "1000")
    assert rows == [] and "no compound matches" in output
    result = CliRunner().invoke(cmd_root, ["query", "--mustar", "1.5"])
    assert result.exit_code != 0 and "1.5" in result.output
    result = CliRunner().invoke(cmd_root, ["query", "--branch", "quantum"])
    assert result.exit_code == 2 and "quantum" in result.output
