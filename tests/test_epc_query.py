"""Compound extras, groups and the one-call QueryBuilder helper of aiida_clathrate.query."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_clathrate.query import (
    COMPOUNDS_GROUP,
    STABLE_GROUP,
    compound_extras,
    format_table,
    mustar_key,
    query_compounds,
    tag_compound,
)

MUSTAR = [0.10, 0.13, 0.15]


def _compound(**values) -> orm.WorkflowNode:
    node = orm.WorkflowNode().store()
    tag_compound(node, mustar=MUSTAR, **values)
    return node


def _drop_groups() -> None:
    """Empty start: delete the compound groups (not the whole profile, which other tests share)."""
    for label in (COMPOUNDS_GROUP, STABLE_GROUP):
        for group in orm.QueryBuilder().append(orm.Group, filters={"label": label}).all(flat=True):
            orm.Group.collection.delete(group.pk)


@pytest.fixture
def compounds(aiida_profile):
    """The study's headline table as tagged nodes (Tc per mu* invented around the reported ones)."""
    _drop_groups()
    yield {
        "SrB3C3": _compound(
            pair=["Sr"],
            pressure_gpa=0.0,
            stability_category="stable",
            stable=True,
            tc_harmonic_kelvin=[19.0, 16.0, 14.0],
            tc_anharmonic_kelvin=[25.0, 22.0, 20.0],
            lambda_harmonic=0.8,
            lambda_anharmonic=0.9,
        ),
        "KRbB6C6": _compound(
            pair=["K", "Rb"],
            pressure_gpa=0.0,
            stability_category="stable",
            stable=True,
            tc_anharmonic_kelvin=[87.0, 80.0, 76.0],
            lambda_anharmonic=1.6,
        ),
        "KPbB6C6": _compound(
            pair=["K", "Pb"],
            pressure_gpa=0.0,
            stability_category="stable",
            stable=True,
            tc_harmonic_kelvin=[88.0, 82.0, 78.0],
            tc_anharmonic_kelvin=[77.0, 72.0, 69.0],
        ),
        "RbB3C3": _compound(
            pair=["Rb"],
            pressure_gpa=15.0,
            stability_category="stable",
            stable=True,
            tc_anharmonic_kelvin=[98.0, 92.0, 88.0],
        ),
        "CsBaB6C6": _compound(
            pair=["Cs", "Ba"],
            pressure_gpa=0.0,
            stability_category="flat_soft_modes",
            stable=False,
            tc_anharmonic_kelvin=[95.0, 90.0, 85.0],
        ),
    }


def test_stable_at_zero_pressure_above_77_kelvin(compounds):
    rows = query_compounds(stable=True, tc_min_kelvin=77, pressure_gpa=0)
    assert [row["formula"] for row in rows] == ["KRbB6C6"]  # KPbB6C6 has 77.0, not above
    assert rows[0]["pk"] == compounds["KRbB6C6"].pk
    assert rows[0]["tc_kelvin"] == 87.0


def test_filters_combine(compounds):
    assert {r["formula"] for r in query_compounds(tc_min_kelvin=77)} == {
        "KRbB6C6",
        "RbB3C3",
        "CsBaB6C6",
    }
    assert {r["formula"] for r in query_compounds(stable=False)} == {"CsBaB6C6"}
    assert [r["formula"] for r in query_compounds(pressure_gpa=15)] == ["RbB3C3"]
    at_013 = query_compounds(stable=True, tc_min_kelvin=77, mustar=0.13)
    assert [r["formula"] for r in at_013] == ["RbB3C3", "KRbB6C6"]  # highest Tc first
    harmonic = query_compounds(tc_min_kelvin=50, branch="harmonic")
    assert [r["formula"] for r in harmonic] == ["KPbB6C6"]


def test_groups_follow_stability(compounds):
    stable = orm.load_group(STABLE_GROUP)
    assert compounds["CsBaB6C6"].pk not in {n.pk for n in stable.nodes}
    assert len(orm.load_group(COMPOUNDS_GROUP).nodes) == 5
    tag_compound(
        compounds["SrB3C3"],
        pair=["Sr"],
        pressure_gpa=0.0,
        stability_category="unstable",
        stable=False,
        mustar=MUSTAR,
    )
    assert compounds["SrB3C3"].pk not in {n.pk for n in stable.nodes}


def test_extras_content_and_table(compounds):
    extras = compounds["KPbB6C6"].base.extras.all
    assert extras["average_valence"] == 1.5 and extras["clathrate_pair"] == ["K", "Pb"]
    assert extras[mustar_key("anharmonic", 0.10)] == 77.0
    assert extras["tc_harmonic_max_kelvin"] == 88.0
    table = format_table(query_compounds(stable=True, pressure_gpa=0))
    assert "KRbB6C6" in table and "CsBaB6C6" not in table and "87.0" in table


@pytest.mark.parametrize(
    "values, match",
    [
        ({"pair": ["K", "Rb", "Cs"]}, "one or two"),
        ({"tc_anharmonic_kelvin": [1.0]}, "mu\\* values"),
        ({"pair": ["B"]}, "B"),
    ],
)
def test_bad_extras_are_rejected(values, match):
    arguments = dict(
        pair=["K", "Rb"],
        pressure_gpa=0.0,
        stability_category="stable",
        stable=True,
        mustar=MUSTAR,
    )
    arguments.update(values)
    with pytest.raises(ValueError, match=match):
        compound_extras(**arguments)


def test_bad_query_arguments():
    with pytest.raises(ValueError, match="branch"):
        mustar_key("quasiharmonic", 0.1)
    with pytest.raises(ValueError, match="mu"):
        mustar_key("harmonic", 1.5)
