"""``SschaWorkChain`` with the ``mlp`` engine on localhost: a committee trained in the test on the
quartic dimer, the population loop, its outputs, units and stop criteria."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_sscha_kernel import (  # noqa: E402
    G_EV_PER_A4,
    K_EV_PER_A2,
    dimer,
    scha_quartic_frequency_cm1,
    spring_force_constants,
)

from aiida_clathrate.workflows.sscha import dft_runs  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
TINY_TRAINING = {
    "radial_order": 4,
    "angular_order": 3,
    "radial_cutoff_angstrom": 4.5,
    "angular_cutoff_angstrom": 3.6,
    "token_dim": 8,
    "n_heads": 2,
    "hidden": [16],
    "committee_size": 2,
    "max_epochs": 15,
    # the potential before message passing, float32 training and the stage-two fine-tune:
    # these tests are about the engine, and their thresholds were set with this toy committee
    "finetune_epochs": 0,
    "message_layers": 0,
    "learning_rate": 3e-3,
    "dtype": "float64",
    "batch_size": 8,
}


@pytest.fixture(scope="module")
def dimer_model(tmp_path_factory):
    """A 2-member committee trained on 60 quartic-dimer configurations (widened 0 K sampling)."""
    import torch

    from aiida_clathrate.mlp import Frame, TrainingSettings, train_committee
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.sscha.model_potentials import quartic_dimer_energies_forces
    from aiida_clathrate.sscha.population import ensemble_positions_angstrom, generate_ensemble

    torch.set_num_threads(1)
    atoms = dimer()
    reference = atoms.get_positions()
    phonons = phonons_from_force_constants(atoms, spring_force_constants(K_EV_PER_A2))
    positions = ensemble_positions_angstrom(generate_ensemble(phonons, 0.0, 60, seed=5))
    positions = reference + 1.5 * (positions - reference)
    energies, forces = quartic_dimer_energies_forces(positions, reference, K_EV_PER_A2, G_EV_PER_A4)
    frames = [
        Frame(("H", "H"), p, atoms.cell[:], energy_ev=e, forces_ev_per_angstrom=f)
        for p, e, f in zip(positions, energies, forces, strict=True)
    ]
    result = train_committee(frames, TrainingSettings.from_dict(TINY_TRAINING))
    path = tmp_path_factory.mktemp("model") / "model.pt"
    result.committee.save(path)
    return path


def test_sscha_workchain_mlp_engine(aiida_profile, aiida_code_installed, dimer_model):
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.data.model import MlpModelData
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain

    # a starting matrix with imaginary modes: the workchain must make it positive and say so
    unstable = from_phonons(
        phonons_from_force_constants(dimer(), spring_force_constants(-K_EV_PER_A2))
    ).store()
    mlp_code = aiida_code_installed(
        default_calc_job_plugin="clathrate.mlp.evaluate",
        filepath_executable=str(BIN / "aiida-clathrate-mlp"),
    )
    sscha_code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize",
        filepath_executable=str(BIN / "aiida-clathrate-sscha"),
    )
    inputs = {
        "dynamical_matrices": unstable,
        "engine": orm.Str("mlp"),
        "population_sizes": orm.List([100, 200]),
        "max_populations": orm.Int(3),
        "seed": orm.Int(11),
        # a strict Kong-Liu ratio forces a second population before convergence
        "minimizer_settings": orm.Dict({"kong_liu_ratio": 0.995}),
        "mlp": {"code": mlp_code, "model": MlpModelData(file=str(dimer_model))},
        "minimize": {"code": sscha_code},
    }
    results, node = run_get_node(SschaWorkChain, **inputs)
    assert node.is_finished_ok, node.exit_status
    reports = [log.message for log in orm.Log.collection.get_logs_for(node)]
    assert any("ForcePositiveDefinite: 3 imaginary" in message for message in reports)
    assert "starting_dynamical_matrices" in results

    table = results["populations"]
    n_populations = len(table.get_array("population"))
    assert 2 <= n_populations <= 3
    np.testing.assert_array_equal(table.get_array("n_configurations")[:2], [100, 200])
    assert np.all(table.get_array("n_dft") == 0)
    converged = table.get_array("converged")
    # the loop stops at the first converged population, or at max_populations
    assert results["converged"].value == bool(converged[-1])
    assert not np.any(converged[:-1])
    assert converged[-1] or n_populations == 3
    assert len([m for m in reports if "configurations (0 DFT)" in m]) == n_populations

    # units: free energy per cell in eV, frequencies in cm^-1, near the exact SCHA answer
    expected_cm1, harmonic_cm1, expected_free_energy_ev = scha_quartic_frequency_cm1(
        K_EV_PER_A2, G_EV_PER_A4, dimer().get_masses()[0] / 2
    )
    frequencies = results["frequencies_cm1"].get_array("frequencies_cm1")
    print(
        f"\nmlp engine: {n_populations} populations, final {frequencies.round(1)} cm^-1 "
        f"(exact SCHA {expected_cm1:.1f}, harmonic {harmonic_cm1:.1f}); F "
        f"{results['free_energy_ev'].value:.5f} +- {results['free_energy_error_ev'].value:.5f} eV "
        f"(exact {expected_free_energy_ev:.5f})"
    )
    assert frequencies.shape == (3,)
    assert abs(frequencies.mean() - expected_cm1) < 0.03 * expected_cm1
    assert abs(results["free_energy_ev"].value - expected_free_energy_ev) < 0.02
    # after convergence: the Hessian (v4 included) and the verdict
    if results["converged"].value:
        hessian = results["hessian_frequencies_cm1"].get_array("frequencies_cm1")
        np.testing.assert_allclose(hessian, frequencies, rtol=0.03)  # even potential: no odd part
        assert results["verdict"]["category"] == "stable"
        assert results["verdict"]["lowest_hessian_cm1"] == pytest.approx(hessian.min())
    else:
        assert results["verdict"]["category"] == "undetermined"
    assert any(m.startswith("verdict:") or "verdict:" in m for m in reports)
    lowest = table.get_array("lowest_frequencies_cm1")
    assert lowest.shape == (n_populations, 6)
    assert np.all(np.isfinite(lowest[:, :3])) and np.all(np.isnan(lowest[:, 3:]))
    np.testing.assert_allclose(table.get_array("lowest_frequency_cm1"), lowest[:, 0])
    # Gamma only (1x1x1): the lowest frequency per q-point is the lowest one
    per_q = table.get_array("lowest_frequency_per_qpoint_cm1")
    assert per_q.shape == (n_populations, 1)
    np.testing.assert_allclose(table.get_array("qpoints_crystal"), [[0.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(per_q[:, 0], lowest[:, 0], rtol=1e-6)


def test_sscha_workchain_validates_engine_inputs(aiida_profile, aiida_code_installed):
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain

    folder = from_phonons(
        phonons_from_force_constants(dimer(), spring_force_constants(K_EV_PER_A2))
    ).store()
    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize",
        filepath_executable=str(BIN / "aiida-clathrate-sscha"),
    )
    common = {"dynamical_matrices": folder, "minimize": {"code": code}}
    with pytest.raises(ValueError, match="engine `mlp` needs"):
        run_get_node(SschaWorkChain, engine=orm.Str("mlp"), **common)
    with pytest.raises(ValueError, match="engine `dft` needs"):
        run_get_node(SschaWorkChain, engine=orm.Str("dft"), **common)
    with pytest.raises(ValueError, match="engine must be one of"):
        run_get_node(SschaWorkChain, engine=orm.Str("bogus"), **common)
    with pytest.raises(ValueError, match="population_sizes"):
        run_get_node(
            SschaWorkChain, engine=orm.Str("mlp"), population_sizes=orm.List([3]), **common
        )


def test_failed_dft_configurations_are_dropped_with_their_partner():
    from aiida_clathrate.workflows.sscha import configurations_to_keep

    assert configurations_to_keep(6, []) == [0, 1, 2, 3, 4, 5]
    assert configurations_to_keep(6, {3}) == [0, 1, 4, 5]
    assert configurations_to_keep(6, [0, 5]) == [2, 3]
    with pytest.raises(ValueError, match="out of range"):
        configurations_to_keep(4, [4])


def test_collect_dft_results_converts_quantum_espresso_units_and_sign(aiida_profile):
    """pw.x outputs (energy eV, forces eV/Å, stress GPa with QE's sign) -> ASE-convention arrays."""
    from aiida import orm
    from ase.units import GPa

    from aiida_clathrate.data.ensemble import EnsembleData
    from aiida_clathrate.workflows.sscha import collect_dft_results

    atoms = dimer()
    positions = atoms.get_positions()[None].repeat(4, axis=0) + np.arange(4)[:, None, None] * 0.01
    ensemble = EnsembleData(
        positions, atoms.get_positions(), atoms.cell[:], ["H", "H"], 0.0, 3
    ).store()
    outputs = {}
    for i in (0, 1, 3):  # configuration 2 failed: the workchain passes 0, 1 only; here test 3 too
        trajectory = orm.TrajectoryData()
        trajectory.set_trajectory(
            symbols=["H", "H"],
            positions=positions[i][None],
            cells=atoms.cell[:][None],
        )
        trajectory.set_array("forces", np.full((1, 2, 3), float(i)))
        trajectory.set_array("stress", np.eye(3)[None] * 10.0)  # 10 GPa compression (QE sign)
        outputs[f"parameters_{i}"] = orm.Dict({"energy": -10.0 - i})
        outputs[f"trajectory_{i}"] = trajectory
    result = collect_dft_results(ensemble, **outputs)
    assert result.n_configurations == 3
    assert result.base.attributes.get("kept_indices") == [0, 1, 3]
    np.testing.assert_allclose(result.get_array("positions_angstrom"), positions[[0, 1, 3]])
    arrays = result.get_results()
    np.testing.assert_allclose(arrays["energies_ev"], [-10.0, -11.0, -13.0])
    np.testing.assert_allclose(arrays["forces_ev_per_angstrom"][2], 3.0)
    # ASE sign: compression is a negative stress
    np.testing.assert_allclose(np.diag(arrays["stresses_ev_per_angstrom3"][0]), -10.0 * GPa)


@pytest.mark.qe
@pytest.mark.slow
def test_sscha_workchain_dft_engine_with_pw(aiida_profile, clathrate_setup, qe_codes):
    """One population of 8 configurations of a 2-atom Al cell with real pw.x (tiny settings), run
    4 at a time (sharing the 2 MPI processes asked for); the results feed the minimisation and the table counts 8 DFT calculations."""
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida_quantumespresso.common.types import ElectronicType
    from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain
    from ase import Atoms

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.pseudo_family import SHIPPED_FAMILY_LABEL
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain

    atoms = Atoms("Al2", positions=[[0, 0, 0], [1.62] * 3], cell=np.eye(3) * 3.24, pbc=True)
    matrices = from_phonons(phonons_from_force_constants(atoms, spring_force_constants(2.0)))
    pw = PwBaseWorkChain.get_builder_from_protocol(
        orm.load_code(qe_codes["pw"]),
        orm.StructureData(ase=atoms),
        "fast",
        overrides={
            "pseudo_family": SHIPPED_FAMILY_LABEL,
            "pw": {
                "parameters": {
                    "CONTROL": {"tprnfor": True, "tstress": True},
                    "SYSTEM": {"ecutwfc": 15.0, "ecutrho": 60.0, "nbnd": 12},
                },
                "metadata": {
                    "options": {
                        "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 2},
                        "withmpi": True,
                    }
                },
            },
        },
        electronic_type=ElectronicType.METAL,
    )
    dft_inputs = pw._inputs(prune=True)
    dft_inputs["pw"].pop("structure")
    dft_inputs.pop("clean_workdir", None)
    dft_inputs.pop("kpoints_distance", None)
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([2, 2, 2])
    dft_inputs["kpoints"] = kpoints
    results, node = run_get_node(
        SschaWorkChain,
        dynamical_matrices=matrices.store(),
        engine=orm.Str("dft"),
        population_sizes=orm.List([8]),
        max_populations=orm.Int(1),
        max_concurrent_dft=orm.Int(4),
        dft=dft_inputs,
        minimize={"code": orm.load_code("clathrate-sscha@localhost")},
    )
    assert node.is_finished_ok, node.exit_status
    pw_runs = list(dft_runs(node).values())
    assert len(pw_runs) == 8 and all(n.is_finished_ok for n in pw_runs)
    # 4 at a time on the direct scheduler: the 2 processes asked for are shared, 1 each, no mpirun
    for run in pw_runs:
        options = next(c for c in run.called if isinstance(c, orm.CalcJobNode)).get_options()
        assert options["resources"]["num_mpiprocs_per_machine"] == 1
        assert options["withmpi"] is False
    report = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert "population 1: 8 pw.x, 4 at a time (1 MPI process each; each series" in report
    table = results["populations"]
    np.testing.assert_array_equal(table.get_array("n_dft"), [8])
    np.testing.assert_array_equal(table.get_array("n_configurations"), [8])
    # per-cell free energy in eV: the DFT total energy of Al2 with these pseudopotentials
    energies = [n.outputs.output_parameters["energy"] for n in pw_runs]
    assert abs(results["free_energy_ev"].value - np.mean(energies)) < 1.0
    assert results["frequencies_cm1"].get_array("frequencies_cm1").shape == (3,)


def test_cell_relaxation_on_an_mlp_is_noted_in_the_report():
    """An MLP's pressure moves the cell only with the `mlp`/`active` engines and a target pressure
    (an input of its own or a key of `minimizer_settings`: setup merges both into one dict); the
    note points to the measured limit."""
    from aiida_clathrate.workflows.sscha import cell_relaxation_note

    relaxing = {"kong_liu_ratio": 0.6, "target_pressure_gpa": 0.0}
    for engine in ("mlp", "active"):
        note = cell_relaxation_note(engine, relaxing)
        assert f"engine `{engine}`" in note and "docs/mlp.md" in note
        assert cell_relaxation_note(engine, {"kong_liu_ratio": 0.6}) is None
    assert cell_relaxation_note("dft", relaxing) is None


def test_a_minimisation_that_broke_the_sum_rule_is_retried_in_the_sqrt_representation():
    """Seen on one machine for KRbB6C6 with a Gamma-only k-mesh (test_sscha_clathrate.py): the
    first step broke the acoustic sum rule; the sqrt representation ran. One retry, no more,
    and none for other failures."""
    from aiida_clathrate.calculations.sscha import SschaMinimizeCalculation
    from aiida_clathrate.workflows.restart import minimizer_retry_settings

    script_failed = SschaMinimizeCalculation.exit_codes.ERROR_SCRIPT_FAILED.status
    message = (
        "aiida-clathrate-sscha failed: ERROR WHILE UPDATING THE WEIGHTS Error, one dynamical "
        "matrix does not satisfy the acoustic sum rule. If this problem arises ..."
    )
    settings = {"kong_liu_ratio": 0.6, "target_pressure_gpa": 0.0}
    retry = minimizer_retry_settings(script_failed, message, settings)
    assert retry == {**settings, "root_representation": "sqrt"}
    assert "root_representation" not in settings  # the input is not changed
    assert minimizer_retry_settings(script_failed, message, retry) is None  # tried already
    assert minimizer_retry_settings(script_failed, "some other error", settings) is None
    missing = SschaMinimizeCalculation.exit_codes.ERROR_MISSING_OUTPUT_FILES.status
    assert minimizer_retry_settings(missing, message, settings) is None
    assert minimizer_retry_settings(None, None, settings) is None
