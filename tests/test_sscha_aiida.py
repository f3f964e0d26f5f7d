"""AiiDA layer of the SSCHA: dyn FolderData convention, EnsembleData, calcfunctions and the
``clathrate.sscha.minimize`` CalcJob run on localhost with the quartic dimer (known answer)."""

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

EXECUTABLE = pathlib.Path(sys.executable).parent / "aiida-clathrate-sscha"


@pytest.fixture
def harmonic_folder(aiida_profile):
    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants

    phonons = phonons_from_force_constants(dimer(), spring_force_constants(K_EV_PER_A2))
    return from_phonons(phonons).store()


def test_dynamical_matrices_convention_round_trip(harmonic_folder, tmp_path):
    from aiida import orm

    from aiida_clathrate.data.dynamical_matrices import (
        dynamical_matrices_info,
        from_directory,
        to_phonons,
        validate_dynamical_matrices,
        write_dyn_files,
    )
    from aiida_clathrate.sscha.dynamical_matrix import supercell_frequencies_cm1

    assert dynamical_matrices_info(harmonic_folder) == {
        "prefix": "dyn",
        "nqirr": 1,
        "qpoints_mesh": [1, 1, 1],
    }
    assert set(harmonic_folder.base.repository.list_object_names()) == {"dyn0", "dyn1"}
    phonons = to_phonons(orm.load_node(harmonic_folder.pk))
    _, harmonic_cm1, _ = scha_quartic_frequency_cm1(K_EV_PER_A2, 0, dimer().get_masses()[0] / 2)
    np.testing.assert_allclose(supercell_frequencies_cm1(phonons), [harmonic_cm1] * 3, rtol=1e-5)
    write_dyn_files(harmonic_folder, tmp_path)
    again = from_directory(tmp_path, "dyn")
    assert dynamical_matrices_info(again)["nqirr"] == 1
    broken = orm.FolderData()
    broken.base.attributes.set("prefix", "dyn")
    broken.base.attributes.set("nqirr", 2)
    assert "missing" in validate_dynamical_matrices(broken)
    with pytest.raises(ValueError, match="prefix"):
        dynamical_matrices_info(orm.FolderData())


def test_ensemble_data_stores_arrays_with_units(aiida_profile):
    from aiida import orm
    from ase.units import GPa

    from aiida_clathrate.data.ensemble import EnsembleData

    atoms = dimer()
    positions = atoms.get_positions()[None].repeat(4, axis=0) + 0.01
    node = EnsembleData(
        positions_angstrom=positions,
        reference_positions_angstrom=atoms.get_positions(),
        cell_angstrom=atoms.cell[:],
        symbols=atoms.get_chemical_symbols(),
        temperature_kelvin=0.0,
        seed=5,
    )
    assert not node.has_results
    with pytest.raises(ValueError, match="no results"):
        node.get_results()
    voigt = np.tile([-1 * GPa, -1 * GPa, -1 * GPa, 0, 0, 0], (4, 1))
    node.set_results(np.arange(4.0), np.zeros((4, 2, 3)), voigt)
    with pytest.raises(ValueError, match="forces must have shape"):
        node.set_results(np.arange(4.0), np.zeros((3, 2, 3)))
    node.store()
    loaded = orm.load_node(node.pk)
    assert loaded.has_results and loaded.seed == 5 and loaded.n_configurations == 4
    stresses = loaded.get_results()["stresses_ev_per_angstrom3"]
    assert stresses.shape == (4, 3, 3)
    np.testing.assert_allclose(np.diag(stresses[0]), -GPa)
    assert len(loaded.to_atoms_list()) == 4
    with pytest.raises(ValueError, match="seed"):
        EnsembleData(positions, atoms.get_positions(), atoms.cell[:], ["H", "H"], 0.0, -1)


def test_generate_population_forces_positive_definite_and_is_seeded(aiida_profile):
    from aiida import orm

    from aiida_clathrate.calculations.sscha import generate_population
    from aiida_clathrate.data.dynamical_matrices import from_phonons, to_phonons
    from aiida_clathrate.sscha.dynamical_matrix import (
        phonons_from_force_constants,
        supercell_frequencies_cm1,
    )

    unstable = from_phonons(
        phonons_from_force_constants(dimer(), spring_force_constants(-K_EV_PER_A2))
    ).store()
    args = (unstable, orm.Float(0.0), orm.Int(6), orm.Int(9), orm.Bool(True))
    first, second = generate_population(*args), generate_population(*args)
    assert first["report"]["forced_positive_definite"] and first["report"]["n_imaginary"] == 3
    assert supercell_frequencies_cm1(to_phonons(first["dynamical_matrices"])).min() > 2000
    ensemble = first["ensemble"]
    assert (
        ensemble.base.attributes.get("dynamical_matrices_uuid") == first["dynamical_matrices"].uuid
    )
    assert ensemble.get_array("positions_angstrom").shape == (6, 2, 3)
    np.testing.assert_array_equal(
        ensemble.get_array("positions_angstrom"), second["ensemble"].get_array("positions_angstrom")
    )


def _label(ensemble):
    """Quartic-dimer energies and forces of a population, as a labelled ConfigurationSetData."""
    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp.frames import Frame
    from aiida_clathrate.sscha.model_potentials import quartic_dimer_energies_forces

    positions = ensemble.get_array("positions_angstrom")
    energies, forces = quartic_dimer_energies_forces(
        positions, dimer().get_positions(), K_EV_PER_A2, G_EV_PER_A4
    )
    frames = [
        Frame(ensemble.symbols, p, ensemble.cell_angstrom, energy_ev=e, forces_ev_per_angstrom=f)
        for p, e, f in zip(positions, energies, forces, strict=True)
    ]
    return ConfigurationSetData(frames=frames).store()


def test_minimize_calcjob_on_localhost_quartic_dimer(harmonic_folder, aiida_code_installed):
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import CalculationFactory

    from aiida_clathrate.calculations.sscha import (
        attach_results,
        ensemble_to_configurations,
        generate_population,
    )
    from aiida_clathrate.data.dynamical_matrices import to_phonons
    from aiida_clathrate.sscha.population import ensemble_positions_angstrom, generate_ensemble

    population = generate_population(
        harmonic_folder, orm.Float(0.0), orm.Int(400), orm.Int(1), orm.Bool(True)
    )
    assert "dynamical_matrices" not in population  # stable: the matrix is used as it is
    assert not population["report"]["forced_positive_definite"]
    ensemble = population["ensemble"]
    configurations = ensemble_to_configurations(ensemble)
    assert configurations.n_configurations == 400
    with_results = attach_results(ensemble, _label(ensemble))
    assert with_results.has_results

    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize", filepath_executable=str(EXECUTABLE)
    )
    builder = CalculationFactory("clathrate.sscha.minimize").get_builder()
    builder.code = code
    builder.ensemble = with_results
    builder.dynamical_matrices = harmonic_folder
    builder.temperature_kelvin = orm.Float(0.0)
    builder.settings = orm.Dict({"kong_liu_ratio": 0.5})
    builder.next_population_size = orm.Int(10)
    builder.seed = orm.Int(77)
    builder.compute_hessian = orm.Bool(True)
    builder.hessian_include_v4 = orm.Bool(True)
    builder.hessian_bootstrap_samples = orm.Int(6)
    builder.hessian_bootstrap_seed = orm.Int(5)
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_status

    expected_cm1, harmonic_cm1, expected_free_energy_ev = scha_quartic_frequency_cm1(
        K_EV_PER_A2, G_EV_PER_A4, dimer().get_masses()[0] / 2
    )
    frequencies = results["frequencies_cm1"].get_array("frequencies_cm1")
    assert frequencies.shape == (3,)
    # one population of 400: single-population scatter is ~10 cm^-1 (see the kernel test)
    assert abs(frequencies.mean() - expected_cm1) < 40
    assert frequencies.min() > harmonic_cm1 + 150
    error = results["free_energy_error_ev"].value
    assert 0 < error < 0.01
    assert abs(results["free_energy_ev"].value - expected_free_energy_ev) < max(5 * error, 0.003)
    assert results["converged"].value is True
    assert 0.5 < results["kong_liu_ratio"].value <= 1.0
    parameters = results["output_parameters"].get_dict()
    assert parameters["gradient_ratio_fc"] < 0.2
    assert parameters["n_configurations"] == 400
    # the even potential has no odd correction: Hessian = auxiliary matrix up to noise
    hessian = results["hessian_frequencies_cm1"].get_array("frequencies_cm1")
    np.testing.assert_allclose(hessian, frequencies, rtol=0.02)
    assert parameters["hessian"]["included_v4"] is True
    # six bootstrap resamples (seed 5), each minimised again: they scatter around the Hessian
    bootstrap = results["hessian_frequencies_cm1"].get_array("bootstrap_frequencies_cm1")
    assert bootstrap.shape == (6, 3)
    assert parameters["hessian"]["bootstrap_samples"] == 6
    assert parameters["hessian"]["bootstrap_seed"] == 5
    assert "bootstrap_frequencies_cm1" not in parameters["hessian"]
    assert 0 < bootstrap[:, 0].std() < 60 and abs(bootstrap.mean() - hessian.mean()) < 60
    assert results["hessian_dynamical_matrices"].base.attributes.get("nqirr") == 1
    new_matrices = results["dynamical_matrices"]
    assert new_matrices.base.attributes.get("nqirr") == 1
    assert results["structure"].get_ase().get_chemical_formula() == "H2"
    # the next population: 10 configurations drawn with seed 77 from the new matrix
    next_ensemble = results["next_ensemble"]
    assert next_ensemble.seed == 77 and not next_ensemble.has_results
    assert next_ensemble.base.attributes.get("dynamical_matrices_uuid") == new_matrices.uuid
    again = generate_ensemble(to_phonons(new_matrices), 0.0, 10, seed=77)
    np.testing.assert_allclose(
        next_ensemble.get_array("positions_angstrom"), ensemble_positions_angstrom(again), atol=1e-8
    )


def test_minimize_calcjob_rejects_bad_inputs(harmonic_folder, aiida_code_installed):
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import CalculationFactory

    from aiida_clathrate.calculations.sscha import generate_population

    ensemble = generate_population(
        harmonic_folder, orm.Float(0.0), orm.Int(4), orm.Int(1), orm.Bool(False)
    )["ensemble"]
    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize", filepath_executable=str(EXECUTABLE)
    )
    builder = CalculationFactory("clathrate.sscha.minimize").get_builder()
    builder.code = code
    builder.ensemble = ensemble
    builder.dynamical_matrices = harmonic_folder
    builder.temperature_kelvin = orm.Float(0.0)
    with pytest.raises(ValueError, match="no energies and forces"):
        run_get_node(builder)
    builder.hessian_bootstrap_samples = orm.Int(4)
    with pytest.raises(ValueError, match="needs compute_hessian"):
        run_get_node(builder)
    builder.compute_hessian = orm.Bool(True)
    builder.hessian_bootstrap_samples = orm.Int(1)
    with pytest.raises(ValueError, match="at least 2"):
        run_get_node(builder)
    del builder.hessian_bootstrap_samples
    builder.compute_hessian = orm.Bool(False)
    with pytest.raises(ValueError, match="invalid minimizer settings"):
        builder.settings = orm.Dict({"kong_liu": 0.5})


def test_script_error_keeps_python_sscha_multiline_messages():
    from aiida_clathrate.parsers.sscha import script_error

    stderr = (
        "warning: something\naiida-clathrate-sscha: error: \nERROR WHILE UPDATING THE WEIGHTS\n\n"
        "Error, one dynamical matrix does not satisfy the acoustic sum rule.\n"
    )
    assert script_error(stderr) == (
        "ERROR WHILE UPDATING THE WEIGHTS Error, one dynamical matrix does not satisfy the "
        "acoustic sum rule."
    )
    assert script_error("no marker here") == ""
