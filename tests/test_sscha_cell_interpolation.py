"""SSCHA cell relaxation at a target pressure and the fine-grid interpolation, on EMT copper.

EMT (ASE's effective-medium potential) gives energies, forces and stresses in microseconds, so
these run the real python-sscha minimiser and cellconstructor interpolation in seconds.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_clathrate.sscha.cell import cell_step, pressure_error_gpa
from aiida_clathrate.sscha.dynamical_matrix import structure_from_atoms
from aiida_clathrate.sscha.interpolation import (
    add_anharmonic_correction,
    frequencies_per_qpoint_cm1,
    lowest_frequency_cm1,
)
from aiida_clathrate.sscha.minimize import MinimizerSettings, run_minimization
from aiida_clathrate.sscha.population import (
    evaluate_with_calculator,
    fill_ensemble_results,
    generate_ensemble,
)

LATTICE_ANGSTROM = 3.61


def emt_phonons(supercell: tuple[int, int, int], workdir):
    """Harmonic EMT matrix of fcc Cu by finite displacements in ``supercell`` (cellconstructor
    points the calculator at ``disp_N`` folders: run in ``workdir``)."""
    import cellconstructor.Phonons

    structure = structure_from_atoms(bulk("Cu", "fcc", a=LATTICE_ANGSTROM))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.chdir(workdir):
        phonons = cellconstructor.Phonons.compute_phonons_finite_displacements(
            structure, EMT(), supercell=supercell
        )
        phonons.Symmetrize()
    return phonons


@pytest.fixture(scope="module")
def harmonic_2x2x2(tmp_path_factory):
    return emt_phonons((2, 2, 2), tmp_path_factory.mktemp("emt"))


def minimised(phonons, seed: int, settings: MinimizerSettings, temperature_kelvin: float = 0.0):
    ensemble = generate_ensemble(phonons, temperature_kelvin, 100, seed)
    fill_ensemble_results(
        ensemble, **evaluate_with_calculator(ensemble, EMT(), compute_stress=True)
    )
    return run_minimization(ensemble, settings)


def volume(cell) -> float:
    return float(abs(np.linalg.det(cell)))


def test_cell_relaxation_reaches_target_pressure(harmonic_2x2x2):
    target = 5.0
    settings = MinimizerSettings(target_pressure_gpa=target)
    phonons, pressures = harmonic_2x2x2.Copy(), []
    for population in range(6):
        result = minimised(phonons, seed=population + 1, settings=settings)
        pressures.append(result.cell.pressure_gpa)
        phonons = result.phonons
    start_misfit, end_misfit = abs(pressures[0] - target), abs(pressures[-1] - target)
    assert start_misfit > 3.0  # EMT Cu at 3.61 Å is near 0 GPa
    assert end_misfit < start_misfit / 4
    # compressed to reach +5 GPa: the cell shrank and the matrix moved with it
    assert volume(phonons.structure.unit_cell) < volume(harmonic_2x2x2.structure.unit_cell)
    assert result.summary()["cell_relaxation"]["target_pressure_gpa"] == target


def test_cell_step_size_and_convergence(harmonic_2x2x2):
    result = minimised(harmonic_2x2x2.Copy(), seed=7, settings=MinimizerSettings())
    assert result.cell is None
    measured = harmonic_2x2x2.Copy()
    step = cell_step(result.ensemble, measured, target_pressure_gpa=0.0)
    at_measured = harmonic_2x2x2.Copy()
    kept = cell_step(result.ensemble, at_measured, target_pressure_gpa=step.pressure_gpa)
    assert kept.converged
    assert np.allclose(kept.cell_after_angstrom, kept.cell_before_angstrom)
    # 10 GPa above the measured pressure with B = 100 GPa: about 10 % smaller volume
    squeezed = harmonic_2x2x2.Copy()
    big = cell_step(result.ensemble, squeezed, step.pressure_gpa + 10.0, bulk_modulus_gpa=100.0)
    assert not big.converged
    change = volume(big.cell_after_angstrom) / volume(big.cell_before_angstrom) - 1.0
    assert -0.15 < change < -0.05
    assert np.allclose(squeezed.structure.unit_cell, big.cell_after_angstrom)
    assert big.pressure_error_gpa > 0


def test_cell_step_ignores_traceless_stress_errors_in_a_cubic_cell(harmonic_2x2x2):
    """python-sscha averages the stress with the structure's symmetry, so in a cubic cell a
    traceless error in every configuration's stress (what the MLP, fitted to cubic cells only,
    gets wrong: docs/mlp.md "Limits") changes neither the stress nor the step, only the error
    estimate; an isotropic one moves them."""
    result = minimised(harmonic_2x2x2.Copy(), seed=7, settings=MinimizerSettings())
    ensemble = result.ensemble
    clean = cell_step(ensemble, harmonic_2x2x2.Copy(), target_pressure_gpa=10.0)
    labels = ensemble.stresses.copy()  # Ry/bohr³
    errors = np.random.default_rng(0).normal(size=labels.shape)
    errors = errors + errors.transpose(0, 2, 1)
    errors -= np.trace(errors, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
    ensemble.stresses = labels + 1e-3 * errors  # about 15 GPa per component
    sheared = cell_step(ensemble, harmonic_2x2x2.Copy(), target_pressure_gpa=10.0)
    np.testing.assert_allclose(sheared.stress_gpa, clean.stress_gpa, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sheared.cell_after_angstrom, clean.cell_after_angstrom, atol=1e-12)
    # their scatter does enter the stochastic error that the convergence test uses
    assert sheared.pressure_error_gpa > 10 * clean.pressure_error_gpa
    ensemble.stresses = labels + 1e-3 * np.eye(3)
    squeezed = cell_step(ensemble, harmonic_2x2x2.Copy(), target_pressure_gpa=10.0)
    assert abs(squeezed.pressure_gpa - clean.pressure_gpa) > 10.0
    ensemble.stresses = labels


def test_cell_step_needs_stresses(harmonic_2x2x2):
    ensemble = generate_ensemble(harmonic_2x2x2, 0.0, 10, 3)
    fill_ensemble_results(ensemble, **evaluate_with_calculator(ensemble, EMT()))
    with pytest.raises(ValueError, match="no stresses"):
        cell_step(ensemble, harmonic_2x2x2.Copy(), 0.0)
    with pytest.raises(ValueError, match="bulk_modulus_gpa"):
        MinimizerSettings(bulk_modulus_gpa=0.0)


def test_pressure_error_counts_equal_components_once():
    errors = np.diag([0.3, 0.3, 0.4])
    assert pressure_error_gpa(errors) == pytest.approx(0.5)


def test_interpolation_is_exact_on_the_coarse_grid(harmonic_2x2x2, tmp_path):
    harmonic_4x4x4 = emt_phonons((4, 4, 4), tmp_path)
    same = add_anharmonic_correction(harmonic_4x4x4, harmonic_2x2x2, harmonic_2x2x2)
    for a, b in zip(same.dynmats, harmonic_4x4x4.dynmats, strict=True):
        assert np.allclose(a, b, atol=1e-12)

    phonons = harmonic_2x2x2.Copy()
    for population in range(2):
        phonons = minimised(phonons, population + 1, MinimizerSettings(), 300.0).phonons
    fine = add_anharmonic_correction(harmonic_4x4x4, harmonic_2x2x2, phonons)
    assert tuple(fine.GetSupercell()) == (4, 4, 4)
    q_fine, w_fine = frequencies_per_qpoint_cm1(fine)
    q_coarse, w_coarse = frequencies_per_qpoint_cm1(phonons)
    _, w_harmonic = frequencies_per_qpoint_cm1(harmonic_4x4x4)
    assert w_fine.shape == (64, 3)
    for q, w in zip(q_coarse, w_coarse, strict=True):
        match = [i for i, p in enumerate(q_fine) if np.allclose((p - q + 0.5) % 1 - 0.5, 0)]
        assert len(match) == 1
        assert np.allclose(w_fine[match[0]], w, atol=0.05)
    # 300 K anharmonicity of EMT Cu shifts the fine-grid modes, off the coarse points too
    assert np.max(np.abs(w_fine - w_harmonic)) > 1.0
    assert lowest_frequency_cm1(q_fine, w_fine) > 0


def test_interpolation_refuses_mismatched_grids(harmonic_2x2x2, tmp_path):
    harmonic_3x3x3 = emt_phonons((3, 3, 3), tmp_path)
    with pytest.raises(ValueError, match="not a multiple"):
        add_anharmonic_correction(harmonic_3x3x3, harmonic_2x2x2, harmonic_2x2x2)
    with pytest.raises(ValueError, match="coarse grid"):
        add_anharmonic_correction(harmonic_2x2x2, harmonic_3x3x3, harmonic_2x2x2)


def test_secant_bulk_modulus():
    from aiida_clathrate.sscha.cell import secant_bulk_modulus_gpa

    # 6.2 % smaller volume raised the pressure from -6.3 to 16.9 GPa: B about 370 GPa
    volumes, pressures, errors = [100.0, 93.8], [-6.3, 16.9], [2.8, 2.2]
    assert secant_bulk_modulus_gpa(volumes, pressures, errors) == pytest.approx(362.59, rel=1e-3)
    assert secant_bulk_modulus_gpa(volumes[:1], pressures[:1], errors[:1]) is None
    assert secant_bulk_modulus_gpa([100.0, 99.0], [0.0, 1.0], [1.0, 1.0]) is None  # noise
    assert secant_bulk_modulus_gpa([100.0, 99.0], [0.0, -20.0], [1.0, 1.0]) is None  # B < 0
    assert secant_bulk_modulus_gpa([100.0, 99.99], [0.0, 50.0], [1.0, 1.0]) == 2000.0
