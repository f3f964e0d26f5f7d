"""AiiDA layer of the Eliashberg solver: the ``clathrate.eliashberg`` calcfunction and the CLI."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from aiida_clathrate.eliashberg import (
    EliashbergSettings,
    einstein_spectrum,
    from_mev,
    run_eliashberg,
)

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def einstein_xy(aiida_profile):
    from aiida_clathrate.calculations.eliashberg import alpha2f_xydata

    omega, a2f = einstein_spectrum(40.0, 1.2, relative_width=0.05)
    return omega, a2f, alpha2f_xydata(from_mev(omega, "cm-1"), a2f, "cm-1")


def test_calcfunction_records_provenance(einstein_xy):
    from aiida import orm
    from aiida.common.links import LinkType
    from aiida.plugins import CalculationFactory

    eliashberg = CalculationFactory("clathrate.eliashberg")
    omega, a2f, node = einstein_xy
    results, process = eliashberg.run_get_node(
        alpha2f=node, mustar=orm.List([0.10, 0.15]), settings=orm.Dict({"gap_curve_points": 6})
    )
    assert process.is_finished_ok
    assert node.is_stored
    incoming = {
        link.link_label: link.node
        for link in process.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
    }
    assert incoming["alpha2f"].uuid == node.uuid
    assert incoming["mustar"].get_list() == [0.10, 0.15]
    assert incoming["settings"].get_dict() == {"gap_curve_points": 6}
    outgoing = {
        link.link_label: link.node
        for link in process.base.links.get_outgoing(link_type=LinkType.CREATE).all()
    }
    assert set(outgoing) == {"result", "gap_curve"}
    assert isinstance(outgoing["result"], orm.Dict) and isinstance(
        outgoing["gap_curve"], orm.XyData
    )
    assert outgoing["result"].uuid == results["result"].uuid

    # the stored numbers are those of the plain-Python kernel on the same spectrum
    expected = run_eliashberg(omega, a2f, [0.10, 0.15], EliashbergSettings(gap_curve_points=6))
    result = results["result"].get_dict()
    assert result["lambda"] == pytest.approx(expected.lambda_, rel=1e-9)
    np.testing.assert_allclose(
        result["tc_eliashberg_kelvin"],
        [r.tc_eliashberg_kelvin for r in expected.results],
        rtol=1e-6,
    )
    assert result["tc_eliashberg_kelvin"][0] > result["tc_eliashberg_kelvin"][1] > 0
    for key in ("omega_log_mev", "omega_2_mev", "tc_allen_dynes_kelvin", "tc_mcmillan_kelvin"):
        assert key in result
    assert all(ratio > 3.5 for ratio in result["gap_ratio"])

    curve = results["gap_curve"]
    name, temperatures, unit = curve.get_x()
    assert (name, unit) == ("temperature", "K") and temperatures.size == 6
    ys = curve.get_y()
    assert [y[0] for y in ys] == ["delta_mustar_0.100", "delta_mustar_0.150"]
    assert all(y[2] == "meV" for y in ys)
    assert ys[0][1][0] > ys[1][1][0] > 0.0


def test_calcfunction_default_mustar_is_an_input_node(einstein_xy):
    from aiida_clathrate.calculations.eliashberg import eliashberg

    _, _, node = einstein_xy
    results, process = eliashberg.run_get_node(alpha2f=node, settings={"gap_curve_points": 3})
    assert process.is_finished_ok
    assert process.inputs.mustar.get_list() == [0.10, 0.13, 0.15]
    assert len(results["result"]["tc_eliashberg_kelvin"]) == 3


def test_calcfunction_bad_input_exit_codes(aiida_profile):
    from aiida import orm

    from aiida_clathrate.calculations.eliashberg import alpha2f_xydata, eliashberg

    bad = alpha2f_xydata([1.0, 2.0, 3.0], [0.1, -0.1, 0.2], "meV")
    _, process = eliashberg.run_get_node(alpha2f=bad)
    assert process.exit_status == 300 and "non-negative" in process.exit_message
    good = alpha2f_xydata(*einstein_spectrum(30.0, 1.0), "meV")
    # a bad mu* is refused by the port validator before the function runs (no node is made)
    before = orm.QueryBuilder().append(orm.CalcFunctionNode).count()
    with pytest.raises(ValueError, match=r"mu\* must lie in \[0, 0.5\), got 0.6"):
        eliashberg.run_get_node(alpha2f=good, mustar=orm.List([0.6]))
    assert orm.QueryBuilder().append(orm.CalcFunctionNode).count() == before
    _, process = eliashberg.run_get_node(alpha2f=good, settings=orm.Dict({"bogus": 1}))
    assert process.exit_status == 300 and "bogus" in process.exit_message


def test_cli_prints_table_and_stores(aiida_profile):
    from aiida import orm

    from aiida_clathrate.cli import cmd_root

    runner = CliRunner()
    path = str(EXAMPLES / "eliashberg_clathrate_like_a2f.dat")
    result = runner.invoke(
        cmd_root,
        ["eliashberg", path, "--units", "cm-1", "--mustar", "0.1", "0.13", "0.15", "--no-gap"],
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.startswith(" 0.1")]
    assert [row[0] for row in rows] == ["0.100", "0.130", "0.150"]
    tcs = [float(row[1]) for row in rows]
    assert all(50.0 < tc < 120.0 for tc in tcs) and tcs[0] > tcs[1] > tcs[2]

    before = orm.QueryBuilder().append(orm.CalcFunctionNode).count()
    result = runner.invoke(
        cmd_root,
        [
            "eliashberg",
            str(EXAMPLES / "eliashberg_al_qe67" / "a2F.dos3"),
            "--mustar",
            "0.1",
            "--store",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "stored: calcfunction<" in result.output
    assert orm.QueryBuilder().append(orm.CalcFunctionNode).count() == before + 1

    result = runner.invoke(cmd_root, ["eliashberg", path, "--mustar", "0.7"])
    assert result.exit_code != 0 and "mu*" in result.output


def test_cli_needs_no_profile_without_store(tmp_path):
    """With an empty AiiDA configuration the command runs; only --store asks for a profile."""
    env = dict(os.environ, AIIDA_PATH=str(tmp_path))
    command = [sys.executable, "-c", "from aiida_clathrate.cli import cmd_root; cmd_root()"]
    target = str(EXAMPLES / "eliashberg_al_qe67" / "a2F.dos3")
    done = subprocess.run(
        [*command, "eliashberg", target, "--mustar", "0.1", "--no-gap"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "qe_a2f_dos (Ry), broadening 3" in done.stdout
    stored = subprocess.run(
        [*command, "eliashberg", target, "--mustar", "0.1", "--no-gap", "--store"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stored.returncode != 0 and "--store needs an AiiDA profile" in stored.stderr
