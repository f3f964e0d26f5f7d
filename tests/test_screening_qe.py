"""ScreeningWorkChain with real pw.x, dos.x and projwfc.x (aiida-quantumespresso's PdosWorkChain)
on the three pairs of K and Rb at tiny settings (prototype lattices, scf at Γ, DOS on 2x2x2);
the table, the ranking, the extras, the command line and the figures."""

from __future__ import annotations

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root
from aiida_clathrate.workflows.screening import ScreeningWorkChain

TINY = {"kpoints_mesh": [1, 1, 1], "nscf_kpoints_mesh": [2, 2, 2]}
CODES = {name: f"{name}@localhost" for name in ("pw", "dos", "projwfc")}


@pytest.fixture(scope="module")
def screen_krb(aiida_profile, clathrate_setup):
    from aiida.engine import run_get_node

    builder = ScreeningWorkChain.get_builder_from_protocol(
        CODES, ["K", "Rb"], "fast", relax=False, overrides=TINY, max_concurrent_pairs=2
    )
    _, node = run_get_node(builder)
    return node


@pytest.mark.qe
def test_every_pair_is_screened_and_ranked(screen_krb):
    node = screen_krb
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    rows = node.outputs.table.get_dict()["rows"]
    assert sorted(r["pair"] for r in rows) == ["K", "KRb", "Rb"]
    for row in rows:
        print(row)
        assert 0 < row["n_ef_states_per_ev_b6c6"] < 20
        assert 0.5 < row["framework_share"] <= 1.0  # the B-C framework carries N(E_F)
        assert row["average_valence"] == 1.0
    ranking = node.outputs.ranking.get_dict()
    assert (
        ranking["reference_pair"] == "KPb" and ranking["reference_n_ef_states_per_ev_b6c6"] is None
    )
    expected = [r["pair"] for r in sorted(rows, key=lambda r: -r["n_ef_states_per_ev_b6c6"])]
    assert ranking["pairs"] == expected
    # two at a time: the third pair was launched after the first two finished
    runs = sorted(
        (n for n in node.called if n.process_label == "PairScreeningWorkChain"),
        key=lambda n: n.ctime,
    )
    assert len(runs) == 3 and runs[2].ctime > max(runs[0].mtime, runs[1].mtime)
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert "launched pairs 1..2 of 3 (1 MPI process each)" in report
    for run in runs:
        extras = run.base.extras.all
        assert extras["n_ef_states_per_ev_b6c6"] == run.outputs.summary["n_ef_states_per_ev_b6c6"]
        assert extras["pressure_gpa"] == 0.0 and "pair" in extras
        pdos = next(n for n in run.called if n.process_label == "PdosWorkChain")
        assert pdos.is_finished_ok
        assert pdos.inputs.nscf.kpoints.get_kpoints_mesh()[0] == [2, 2, 2]


@pytest.mark.qe
def test_query_filters_screened_pairs_on_n_ef(screen_krb):
    rows = screen_krb.outputs.table.get_dict()["rows"]
    threshold = sorted(r["n_ef_states_per_ev_b6c6"] for r in rows)[0]
    result = CliRunner().invoke(
        cmd_root, ["query", "--screened", "--n-ef-min", str(threshold), "--pressure", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "2 pair(s)" in result.output  # strictly above the lowest of the three
    result = CliRunner().invoke(cmd_root, ["query", "--n-ef-min", "1"])
    assert result.exit_code != 0 and "add --screened" in result.output
    result = CliRunner().invoke(cmd_root, ["query", "--screened", "--stable"])
    assert result.exit_code != 0 and "--stable apply to compounds" in result.output


@pytest.mark.qe
def test_show_prints_the_ranking(screen_krb):
    result = CliRunner().invoke(cmd_root, ["show", str(screen_krb.pk)])
    assert result.exit_code == 0, result.output
    assert "reference KPb not screened: ranking of every pair" in result.output
    assert (
        len([line for line in result.output.splitlines() if line.startswith(("K ", "Rb ", "KRb "))])
        == 3
    )


@pytest.mark.qe
def test_plot_draws_the_heat_map_and_the_projected_dos(screen_krb, tmp_path):
    result = CliRunner().invoke(
        cmd_root, ["plot", str(screen_krb.pk), "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f"screening_heatmap_{screen_krb.pk}.png" in names
    assert any(name.startswith("pdos_") for name in names)
    chosen = tmp_path / "chosen"
    args = [
        "plot",
        str(screen_krb.pk),
        "--output-dir",
        str(chosen),
        "--pairs",
        "K",
        "--pairs",
        "Rb",
    ]
    result = CliRunner().invoke(cmd_root, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in chosen.iterdir() if p.name.startswith("pdos_")) == [
        f"pdos_K_{screen_krb.pk}.png",
        f"pdos_Rb_{screen_krb.pk}.png",
    ]
    result = CliRunner().invoke(cmd_root, ["plot", str(screen_krb.pk), "--pairs", "KPb"])
    assert result.exit_code != 0 and "not among the screened pairs" in result.output


def test_launch_screening_refuses_bad_metals_before_storing(aiida_profile):
    before = orm.QueryBuilder().append(orm.Node).count()
    for metals in (["K", "Xx"], ["K", "K"]):
        result = CliRunner().invoke(
            cmd_root, ["launch", "screening", *[a for m in metals for a in ("--metals", m)]]
        )
        assert result.exit_code != 0 and "--metals" in result.output, result.output
    result = CliRunner().invoke(
        cmd_root, ["launch", "screening", "--metals", "K Rb", "--launch-compounds", "2"]
    )
    assert result.exit_code != 0 and "needs --daemon --wait" in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_a_dos_mesh_too_coarse_for_tetrahedra_is_refused(aiida_profile, clathrate_setup):
    """A 1x1x1 DOS mesh ran and gave N(E_F) = 0 for KB3C3: refused before anything runs."""
    from aiida_clathrate.structures import clathrate
    from aiida_clathrate.workflows.screening import PairScreeningWorkChain

    with pytest.raises(ValueError, match="at least 2 k-points per direction"):
        PairScreeningWorkChain.get_builder_from_protocol(
            CODES,
            orm.StructureData(ase=clathrate("K")),
            ["K", "K"],
            "fast",
            overrides={"nscf_kpoints_mesh": [1, 1, 1]},
        )


@pytest.mark.qe
def test_a_failed_pair_is_reported_and_the_rest_go_on(aiida_profile, clathrate_setup, tmp_path):
    """A family without Rb: the pairs with Rb cannot be launched (their pseudopotential is
    missing); they are reported and K alone is screened. With no pair left: exit 401."""
    import shutil

    from aiida.engine import run_get_node

    from aiida_clathrate.pseudo_family import install_shipped_family, shipped_pseudo_folder

    folder = tmp_path / "no-rb"
    folder.mkdir()
    for upf in shipped_pseudo_folder().iterdir():
        if upf.name.split(".")[0].split("-")[0] in ("B", "C", "K"):
            shutil.copy(upf, folder / upf.name)
    family, _ = install_shipped_family("test/no-rb", folder)
    assert set(family.elements) == {"B", "C", "K"}
    builder = ScreeningWorkChain.get_builder_from_protocol(
        CODES, ["K", "Rb"], "fast", relax=False, overrides=TINY, pseudo_family=family.label
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert [row["pair"] for row in node.outputs.table.get_dict()["rows"]] == ["K"]
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert (
        "2 of 3 pairs failed" in report
        and "Rb: not launched" in report
        and "KRb: not launched" in report
    )

    builder = ScreeningWorkChain.get_builder_from_protocol(
        CODES, ["Rb"], "fast", relax=False, overrides=TINY, pseudo_family=family.label
    )
    _, node = run_get_node(builder)
    assert node.exit_status == ScreeningWorkChain.exit_codes.ERROR_ALL_PAIRS_FAILED.status
