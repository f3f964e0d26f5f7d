"""``aiida-clathrate launch sscha`` (bad input refused before anything is stored) and
``aiida-clathrate show PK`` on a finished ``SschaWorkChain`` (the population table)."""

from __future__ import annotations

import pathlib
import re
import sys

import numpy as np
import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_sscha_kernel import K_EV_PER_A2, dimer, spring_force_constants  # noqa: E402
from test_sscha_workchain import BIN, dimer_model  # noqa: E402,F401  (the trained committee)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["K", "Xx"], "'Xx'"),
        (["K", "Rb", "--engine", "mlp"], "--model"),
        (["K", "Rb", "--engine", "mlp", "--model", "999999999"], "no such node"),
        (["K", "Rb", "--harmonic", "999999999"], "no such node"),
        (["K", "Rb", "--temperature", "-5"], "-5"),
    ],
)
def test_launch_sscha_rejects_bad_input(clathrate_setup, args, message):
    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(cmd_root, ["launch", "sscha", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_launch_sscha_rejects_unknown_engine_and_non_harmonic_node(clathrate_setup):
    result = CliRunner().invoke(cmd_root, ["launch", "sscha", "K", "Rb", "--engine", "abinitio"])
    assert result.exit_code == 2
    assert "abinitio" in result.output
    node = orm.Int(3).store()
    result = CliRunner().invoke(cmd_root, ["launch", "sscha", "K", "--harmonic", str(node.pk)])
    assert result.exit_code != 0
    assert "not a finished-ok HarmonicPhononWorkChain" in result.output


@pytest.fixture(scope="module")
def sscha_node(aiida_profile, dimer_model):  # noqa: F811
    """A finished two-population mlp-engine SschaWorkChain on the quartic dimer."""
    from aiida.engine import run_get_node

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.data.model import MlpModelData
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain

    matrices = from_phonons(
        phonons_from_force_constants(dimer(), spring_force_constants(K_EV_PER_A2))
    ).store()
    mlp_code = orm.InstalledCode(
        computer=_computer(),
        filepath_executable=str(BIN / "aiida-clathrate-mlp"),
        default_calc_job_plugin="clathrate.mlp.evaluate",
    ).store()
    sscha_code = orm.InstalledCode(
        computer=_computer(),
        filepath_executable=str(BIN / "aiida-clathrate-sscha"),
        default_calc_job_plugin="clathrate.sscha.minimize",
    ).store()
    _, node = run_get_node(
        SschaWorkChain,
        dynamical_matrices=matrices,
        engine=orm.Str("mlp"),
        population_sizes=orm.List([20, 40]),
        max_populations=orm.Int(2),
        seed=orm.Int(4),
        minimizer_settings=orm.Dict({"kong_liu_ratio": 0.999, "meaningful_factor": 1e-12}),
        compute_hessian=orm.Bool(False),
        mlp={"code": mlp_code, "model": MlpModelData(file=str(dimer_model))},
        minimize={"code": sscha_code},
    )
    assert node.is_finished_ok, node.exit_status
    return node


def _computer():
    from aiida_clathrate.localhost import get_or_create_localhost

    return get_or_create_localhost()[0]


def test_show_prints_the_sscha_population_table(sscha_node):
    result = CliRunner().invoke(cmd_root, ["show", str(sscha_node.pk)])
    assert result.exit_code == 0, result.output
    table = sscha_node.outputs.populations
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["pop", "N", "DFT"])
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    assert [int(r[0]) for r in rows] == [1, 2]
    assert [int(r[1]) for r in rows] == table.get_array("n_configurations").tolist() == [20, 40]
    assert [int(r[2]) for r in rows] == [0, 0]
    np.testing.assert_allclose(
        [float(r[3]) for r in rows], table.get_array("free_energy_ev"), atol=1e-6
    )
    np.testing.assert_allclose(
        [float(r[7]) for r in rows], table.get_array("lowest_frequency_cm1"), atol=0.05
    )
    assert re.search(r"engine\s+mlp", result.output)
    assert re.search(r"n_dft_total\s+0", result.output)
    assert re.search(r"verdict\s+undetermined", result.output)
