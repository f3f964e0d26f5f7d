"""StudyWorkChain with real Quantum ESPRESSO: KB3C3 and RbB3C3 at two pressures with the compound
work chain at tiny clathrate settings (no relaxation, no SSCHA, Γ only, 1x1x1 k), and a pair
that cannot be launched; the scan rule, the categories, the extras and the command line."""

from __future__ import annotations

import shutil

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root
from aiida_clathrate.study import study_category
from aiida_clathrate.workflows.study import StudyWorkChain

#: The cheapest clathrate settings that run the whole compound chain (harmonic + EPC at Γ).
TINY_CLATHRATE = {
    "harmonic": {
        "kpoints_mesh": [1, 1, 1],
        "qpoints_mesh": [1, 1, 1],
        "dos_qpoints_mesh": [2, 2, 2],
        "bands_npoints": 10,
        "degauss_ry": 0.05,
    },
    "epc": {
        "kpoints_mesh": [1, 1, 1],
        "dense_kpoints_mesh": [2, 2, 2],
        "qpoints_mesh": [1, 1, 1],
        "dos_qpoints_mesh": [2, 2, 2],
        "ndos": 60,
        "degauss_ry": 0.05,
        "el_ph_sigma_ry": 0.01,
        "eliashberg_settings": {"gap_curve_points": 4},
    },
}
CODES = {name: f"{name}@localhost" for name in ("pw", "ph", "q2r", "matdyn")}
PRESSURES = [0.0, 10.0]


@pytest.fixture(scope="module")
def family_without_rb(aiida_profile, clathrate_setup, tmp_path_factory):
    """A pseudopotential family with B, C and K only: a pair with Rb cannot be launched."""
    from aiida_clathrate.pseudo_family import install_shipped_family, shipped_pseudo_folder

    folder = tmp_path_factory.mktemp("no-rb")
    for upf in shipped_pseudo_folder().iterdir():
        if upf.name.split(".")[0] in ("B", "C", "K"):
            shutil.copy(upf, folder / upf.name)
    family, _ = install_shipped_family("test/study-no-rb", folder)
    return family.label


@pytest.fixture(scope="module")
def study(family_without_rb):
    from aiida.engine import run_get_node

    builder = StudyWorkChain.get_builder()
    builder.pairs = orm.List([["K"], ["Rb"]])
    builder.pressures_gpa = orm.List(PRESSURES)
    builder.codes = orm.Dict(CODES)
    builder.run_sscha = orm.Bool(False)
    builder.relax = orm.Bool(False)
    builder.overrides = orm.Dict(TINY_CLATHRATE)
    builder.pseudo_family = orm.Str(family_without_rb)
    builder.num_mpiprocs = orm.Int(2)
    return run_get_node(builder)[1]


@pytest.mark.qe
def test_the_scan_follows_the_rule_and_the_failed_pair_is_reported(study):
    node = study
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    rows = {row["formula"]: row for row in node.outputs.table.get_dict()["rows"]}
    assert set(rows) == {"KB3C3", "RbB3C3"}
    k_runs = rows["KB3C3"]["runs"]
    verdicts = {run["pressure_gpa"]: run["verdict"] for run in k_runs}
    # stable at 0 GPa: no second pressure; otherwise both pressures ran
    expected_pressures = [0.0] if verdicts.get(0.0) == "stable" else PRESSURES
    assert [run["pressure_gpa"] for run in k_runs] == expected_pressures
    assert all(run["verdict"] in ("stable", "unstable") for run in k_runs)  # no SSCHA
    category, pressure = study_category(verdicts)
    assert (rows["KB3C3"]["category"], rows["KB3C3"]["lowest_stabilising_pressure_gpa"]) == (
        category,
        pressure,
    )
    # Rb has no pseudopotential in the family: both pressures tried, neither launched
    assert rows["RbB3C3"]["category"] == "failed"
    assert [run["pk"] for run in rows["RbB3C3"]["runs"]] == [None, None]
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert "Rb at 0 GPa: not launched" in report and "Rb at 10 GPa: not launched" in report
    for run in k_runs:
        compound = orm.load_node(run["pk"])
        assert compound.process_label == "ClathrateSuperconductorWorkChain"
        assert compound.inputs.pressure_gpa.value == run["pressure_gpa"]
        extras = compound.base.extras.all
        assert extras["study_category"] == category and extras["study_pk"] == node.pk
        assert run["tc_harmonic_kelvin"] == compound.outputs.summary.get_dict().get(
            "tc_harmonic_kelvin"
        )


@pytest.mark.qe
def test_query_filters_compounds_on_the_study_category(study):
    row = next(r for r in study.outputs.table.get_dict()["rows"] if r["formula"] == "KB3C3")
    result = CliRunner().invoke(cmd_root, ["query", "--study-category", row["category"]])
    assert result.exit_code == 0, result.output
    listed = {
        int(line.split()[0]) for line in result.output.splitlines() if line[:6].strip().isdigit()
    }
    assert {run["pk"] for run in row["runs"]} <= listed
    other = "stable" if row["category"] != "stable" else "unstable"
    result = CliRunner().invoke(cmd_root, ["query", "--study-category", other])
    assert not {run["pk"] for run in row["runs"]} & {
        int(line.split()[0]) for line in result.output.splitlines() if line[:6].strip().isdigit()
    }


@pytest.mark.qe
def test_show_prints_the_study(study):
    result = CliRunner().invoke(cmd_root, ["show", str(study.pk)])
    assert result.exit_code == 0, result.output
    assert "KB3C3" in result.output and "RbB3C3     failed" in result.output


@pytest.mark.parametrize(
    ("port", "value", "message"),
    [
        ("pairs", [], "pairs is empty"),
        ("pairs", [["K", "Xx"]], "unknown or non-metal guest element 'Xx'"),
        ("pairs", [["K", "Rb"], ["Rb", "K"]], "repeated pairs"),
        ("pressures_gpa", [0.0, 0.0], "pressures_gpa has repeats"),
        ("codes", {"pw": "pw@localhost"}, "codes lacks"),
    ],
)
def test_bad_inputs_are_refused(aiida_profile, port, value, message):
    from aiida.engine import run_get_node

    builder = StudyWorkChain.get_builder()
    builder.pairs = orm.List([["K"]])
    builder.codes = orm.Dict({**CODES, "sscha": "clathrate-sscha@localhost"})
    builder[port] = orm.List(value) if isinstance(value, list) else orm.Dict(value)
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)


def test_launch_study_refuses_bad_pairs_before_storing(aiida_profile, clathrate_setup):
    before = orm.QueryBuilder().append(orm.Node).count()
    for arguments, message in (
        (["--pairs", "K-Xx"], "unknown or non-metal guest element"),
        ([], "no pairs"),
        (["--pairs", "K-Rb", "10"], "pressures go after --pressures"),
        (["--pairs", "K", "--from-screening", "1"], "not both"),
    ):
        result = CliRunner().invoke(cmd_root, ["launch", "study", *arguments])
        assert result.exit_code != 0 and message in result.output, (arguments, result.output)
    assert orm.QueryBuilder().append(orm.Node).count() == before
