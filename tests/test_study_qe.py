"""StudyWorkChain with real Quantum ESPRESSO: KB3C3 and RbB3C3 at two pressures with the compound
work chain at tiny clathrate settings (no relaxation, no SSCHA, Γ only, 1x1x1 k), and a pair
that cannot be launched; the scan rule, the categories, the extras and the command line."""

from __future__ import annotations

import pathlib
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


@pytest.mark.qe
def test_plot_draws_the_study_figures(study, tmp_path):
    result = CliRunner().invoke(cmd_root, ["plot", str(study.pk), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {pathlib.Path(line).name for line in result.output.split()}
    fixed = {"study_tc_pressure", "study_summary", "study_low_frequency_lambda", "study_soft_mode"}
    assert {f"{name}_{study.pk}.png" for name in fixed} <= written
    spectra = {name for name in written if name.startswith("study_spectra_")}
    row = next(r for r in study.outputs.table.get_dict()["rows"] if r["formula"] == "KB3C3")
    with_lambda = any(run.get("lambda_harmonic") is not None for run in row["runs"])
    # a spectrum figure for KB3C3 exactly when one of its runs has electron-phonon results
    assert spectra == ({f"study_spectra_KB3C3_{study.pk}.png"} if with_lambda else set())
    assert all((tmp_path / name).stat().st_size > 1000 for name in written)


@pytest.mark.qe
def test_report_of_the_study_renders_in_a_browser(study, tmp_path):
    import re

    from browser import BROKEN_IMAGE, rendered

    from aiida_clathrate.study_data import gather_study

    result = CliRunner().invoke(cmd_root, ["report", str(study.pk), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    html_path = tmp_path / f"study_{study.pk}.html"
    markdown_path = tmp_path / f"study_{study.pk}.md"
    assert str(html_path) in result.output and str(markdown_path) in result.output
    pngs = sorted(tmp_path.glob(f"study_{study.pk}_*.png"))
    markdown = markdown_path.read_text()
    assert pngs and all(f"]({png.name})" in markdown for png in pngs)
    page = html_path.read_text()
    assert not re.search(r'(?:src|href)="(?!data:image/png;base64,)', page)  # self-contained

    dom, decoded, images = rendered(html_path)
    assert decoded == images == len(pngs)
    table = study.outputs.table.get_dict()
    rows = {row["formula"]: row for row in table["rows"]}
    k_row = rows["KB3C3"]
    k_pks = ", ".join(str(run["pk"]) for run in k_row["runs"])
    assert f"<td>K</td><td>KB3C3</td><td>1.00</td><td>{k_row['category']}</td>" in dom
    assert f"<td>{k_pks}</td>" in dom
    assert "<td>Rb</td><td>RbB3C3</td><td>1.00</td><td>failed</td><td>–</td><td>–, –</td>" in dom
    gathered = next(r for r in gather_study(study)["rows"] if r["formula"] == "KB3C3")
    compounds = {r["pk"]: r["compound"] for r in gathered["runs"]}
    for run in k_row["runs"]:
        # each compound's own table, with the harmonic workchain's PK beside its verdict
        compound = compounds[run["pk"]]
        assert f"compound {run['pk']} (finished)" in dom
        verdict = "stable" if compound["harmonic_stable"] else "unstable"
        assert f"<td>verdict</td><td>{verdict}</td><td>{compound['harmonic_pk']}</td>" in dom
        tcs = run.get("tc_harmonic_kelvin")
        if tcs:
            assert f"<td>{', '.join(f'{tc:.1f}' for tc in tcs)}</td>" in dom
    _, decoded, images = rendered(html_path, BROKEN_IMAGE)
    assert (decoded, images) == (len(pngs), len(pngs) + 1)
