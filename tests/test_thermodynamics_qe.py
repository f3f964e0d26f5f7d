"""ThermodynamicsWorkChain with real pw.x: KB3C3 and its elements (K bcc, alpha-B12, diamond)
relaxed at 5 GPa at tiny settings; ΔH recomputed by hand from the relaxations, T*, the reuse of
the references by a second run, the extras, the command line and the figure."""

from __future__ import annotations

import math

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root
from aiida_clathrate.workflows.thermodynamics import (
    REFERENCE_KEY_EXTRA,
    ThermodynamicsWorkChain,
    formation_thermodynamics,
)

#: 20/80 Ry and k-points every 0.8 1/Å: KB3C3 on 2x2x2, K bcc on 3x3x3 (seconds per relaxation).
TINY = {"ecutwfc_ry": 20.0, "ecutrho_ry": 80.0, "kpoints_distance_per_angstrom": 0.8}
PHASES = {"K": ["bcc"], "B": ["alpha_B12"], "C": ["diamond"]}
PRESSURE_GPA = 5.0
EV_PER_GPA_ANGSTROM3 = 1.0 / 160.21766208  # ASE's GPa (CODATA 2014)
KB_EV_PER_K = 8.617333262e-5


def _builder(**kwargs):
    return ThermodynamicsWorkChain.get_builder_from_protocol(
        "pw@localhost",
        ["K"],
        "fast",
        [PRESSURE_GPA],
        overrides=TINY,
        phases=PHASES,
        **kwargs,
    )


@pytest.fixture(scope="module")
def compound_stand_in(aiida_profile):
    """A stored node in the compound group with the extras of a KB3C3 compound run at 5 GPa, so
    that the thermodynamics can tag it."""
    from aiida_clathrate.query import COMPOUNDS_GROUP

    node = orm.WorkflowNode().store()
    node.base.extras.set_many({"formula": "KB3C3", "pressure_gpa": PRESSURE_GPA})
    group, _ = orm.Group.collection.get_or_create(COMPOUNDS_GROUP)
    group.add_nodes(node)
    return node


@pytest.fixture(scope="module")
def thermo_kb3c3(aiida_profile, clathrate_setup, compound_stand_in):
    from aiida.engine import run_get_node

    return run_get_node(_builder())[1]


def _relaxations(node) -> list:
    return [n for n in node.called if n.process_label == "PwRelaxWorkChain"]


def _by_hand_enthalpy_per_atom(relax) -> float:
    energy = relax.outputs.output_parameters["energy"]
    atoms = relax.outputs.output_structure.get_ase()
    return (energy + PRESSURE_GPA * EV_PER_GPA_ANGSTROM3 * atoms.get_volume()) / len(atoms)


@pytest.mark.qe
def test_formation_enthalpy_and_synthesis_temperature_by_hand(thermo_kb3c3):
    node = thermo_kb3c3
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    relaxations = _relaxations(node)
    assert sorted(r.label for r in relaxations) == [
        "B alpha_B12 5 GPa",
        "C diamond 5 GPa",
        "K bcc 5 GPa",
        "compound KB3C3 5 GPa",
    ]
    h = {r.label.split()[0]: _by_hand_enthalpy_per_atom(r) for r in relaxations}
    for relax in relaxations:
        assert relax.is_finished_ok
        press = relax.inputs.base_relax.pw.parameters["CELL"]["press"]
        assert press == pytest.approx(10 * PRESSURE_GPA)  # kbar
        system = relax.inputs.base_relax.pw.parameters["SYSTEM"]
        assert (system["ecutwfc"], system["ecutrho"]) == (20.0, 80.0)
    # KB3C3 = K2B6C6: 14 atoms
    expected_mev = 1e3 * (14 * h["compound"] - 2 * h["K"] - 6 * h["B"] - 6 * h["C"]) / 14
    data = node.outputs.thermodynamics.get_dict()
    (row,) = data["rows"]
    assert row["formation_enthalpy_mev_atom"] == pytest.approx(expected_mev, abs=1e-6)
    assert row["reference_phases"] == {"B": "alpha_B12", "C": "diamond", "K": "bcc"}
    entropy = 12 * math.log(2.0) / 14  # B/C mixing only: one kind of guest
    assert data["configurational_entropy_kb_per_atom"] == pytest.approx(entropy)
    t_star = row["synthesis_temperature_k"]
    if expected_mev > 0:
        assert t_star == pytest.approx(1e-3 * expected_mev / (entropy * KB_EV_PER_K))
    else:
        assert t_star == 0.0
    assert data["by_entropy_model"]["guests"]["configurational_entropy_kb_per_atom"] == 0.0


@pytest.mark.qe
def test_extras_group_and_compound_tags(thermo_kb3c3, compound_stand_in):
    from aiida_clathrate.query import THERMODYNAMICS_GROUP

    node = thermo_kb3c3
    data = node.outputs.thermodynamics.get_dict()
    extras = node.base.extras.all
    assert extras["formula"] == "KB3C3" and extras["pressures_gpa"] == [PRESSURE_GPA]
    assert extras["formation_enthalpy_mev_atom"] == [data["rows"][0]["formation_enthalpy_mev_atom"]]
    group = orm.Group.collection.get(label=THERMODYNAMICS_GROUP)
    assert node.pk in {n.pk for n in group.nodes}
    tags = compound_stand_in.base.extras.all
    assert tags["thermodynamics_pk"] == node.pk
    assert tags["formation_enthalpy_mev_atom"] == data["rows"][0]["formation_enthalpy_mev_atom"]
    for relax in _relaxations(node):
        assert len(relax.base.extras.get(REFERENCE_KEY_EXTRA)) == 24


@pytest.mark.qe
def test_a_second_run_reuses_every_relaxation(thermo_kb3c3):
    from aiida.engine import run_get_node

    before = orm.QueryBuilder().append(orm.CalcJobNode).count()
    _, again = run_get_node(_builder())
    assert again.is_finished_ok
    assert orm.QueryBuilder().append(orm.CalcJobNode).count() == before  # nothing ran
    assert _relaxations(again) == []
    first = thermo_kb3c3.outputs.thermodynamics.get_dict()["rows"]
    assert again.outputs.thermodynamics.get_dict()["rows"] == first
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(again))
    assert "4 relaxations reused from earlier runs" in report
    # the provenance of the second result reaches the first run's relaxations
    inputs = again.outputs.thermodynamics.creator.base.links.get_incoming().all_nodes()
    top_callers = set()
    for structure in (n for n in inputs if isinstance(n, orm.StructureData)):
        caller = structure.creator
        while caller.caller is not None:
            caller = caller.caller
        top_callers.add(caller.pk)
    assert top_callers == {thermo_kb3c3.pk}


@pytest.mark.qe
def test_show_and_plot(thermo_kb3c3, tmp_path):
    result = CliRunner().invoke(cmd_root, ["show", str(thermo_kb3c3.pk)])
    assert result.exit_code == 0, result.output
    assert "KB3C3: formation enthalpy against the elements" in result.output
    assert "synthesis pressure at 4000 K" in result.output
    result = CliRunner().invoke(
        cmd_root, ["plot", str(thermo_kb3c3.pk), "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    figure = tmp_path / f"thermodynamics_{thermo_kb3c3.pk}.png"
    assert figure.stat().st_size > 10_000


@pytest.mark.qe
def test_query_lists_the_run_and_filters_on_the_synthesis_pressure(thermo_kb3c3):
    data = thermo_kb3c3.outputs.thermodynamics.get_dict()
    result = CliRunner().invoke(cmd_root, ["query", "--thermodynamics"])
    assert result.exit_code == 0, result.output
    line = next(
        row for row in result.output.splitlines() if row.split()[:1] == [str(thermo_kb3c3.pk)]
    )
    assert "KB3C3" in line and f"{data['rows'][0]['formation_enthalpy_mev_atom']:.0f}" in line
    synthesis = data["synthesis_pressure_gpa"]
    # one pressure: the synthesis pressure is that pressure when T* <= 4000 K there, else none
    assert synthesis in (None, PRESSURE_GPA)
    below = CliRunner().invoke(
        cmd_root, ["query", "--thermodynamics", "--synthesis-pressure-max", "1"]
    )
    assert str(thermo_kb3c3.pk) not in below.output.split()
    refused = CliRunner().invoke(cmd_root, ["query", "--synthesis-pressure-max", "1"])
    assert refused.exit_code != 0 and "add --thermodynamics" in refused.output


def test_missing_relaxations_leave_no_pressure(aiida_profile):
    """No relaxation for any pressure: the calcfunction says which were lacking."""
    with pytest.raises(ValueError, match="no pressure has the compound and every element"):
        formation_thermodynamics(
            orm.Dict({}),
            orm.List(["K", "K"]),
            orm.List([0.0]),
            orm.Str("guests_and_framework"),
            orm.Float(4000.0),
        )


@pytest.mark.parametrize(
    ("port", "value", "message"),
    [
        ("metals", ["K", "Xx"], "metals: unknown or non-metal guest element 'Xx'"),
        ("pressures_gpa", [], "pressures_gpa is empty"),
        ("pressures_gpa", [0.0, 0.0], "pressures_gpa has repeats"),
        ("pressures_gpa", [-5.0], "pressure"),
        ("entropy_model", "regular", "unknown entropy_model 'regular'"),
        ("phases", {"K": ["hcp"], "B": ["alpha_B12"], "C": ["diamond"]}, "'hcp'"),
        ("phases", {"K": ["bcc"], "B": ["alpha_B12"]}, "no candidate phase for C"),
    ],
)
def test_bad_inputs_are_refused_with_their_reason(
    aiida_profile, clathrate_setup, port, value, message
):
    from aiida.engine import run_get_node

    wrap = {list: orm.List, dict: orm.Dict, str: orm.Str}[type(value)]
    builder = _builder()
    builder[port] = wrap(value)
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before


def test_launch_thermodynamics_refuses_bad_input_before_storing(aiida_profile, clathrate_setup):
    before = orm.QueryBuilder().append(orm.Node).count()
    for arguments, message in (
        (["K", "Xx"], "unknown or non-metal guest element"),
        (["K", "Rb", "Cs"], "give one metal"),
        (["K", "--pressures", "-3"], "pressure"),
        (["K", "--pressures", "10", "--pressures", "10"], "--pressures has repeats"),
        (["K", "--entropy-model", "regular"], "regular"),
        (["K", "10"], "pressures go after --pressures"),
        (["K", "Rb", "--pressures", "0", "10", "0"], "--pressures has repeats"),
    ):
        result = CliRunner().invoke(cmd_root, ["launch", "thermodynamics", *arguments])
        assert result.exit_code != 0 and message in result.output, (arguments, result.output)
    assert orm.QueryBuilder().append(orm.Node).count() == before
