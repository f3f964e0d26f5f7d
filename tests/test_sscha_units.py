"""``aiida_clathrate.units``: python-sscha (Ry, Ry/Å, Ry/bohr³ with inverted sign) <-> ASE/AiiDA,
and the factors the other modules import from it (kbar, eV/Å³ -> GPa, THz, cm⁻¹, meV)."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_clathrate import units


def test_known_values():
    assert units.energy_ry_to_ev(1.0) == pytest.approx(13.605693, abs=1e-6)
    assert units.BOHR_TO_ANGSTROM == pytest.approx(0.529177, abs=1e-6)
    # 1 eV/Å³ = 160.2177 GPa
    assert units.stress_ev_per_angstrom3_to_gpa(1.0) == pytest.approx(160.2177, rel=1e-5)
    # 1 Ry = 109737 cm^-1 (Rydberg constant)
    assert units.frequency_ry_to_cm1(1.0) == pytest.approx(109737.3, rel=1e-6)
    # 1 amu = 1822.888 m_e = 911.444 Rydberg mass units (2 m_e)
    assert units.mass_amu_to_ry(1.0) == pytest.approx(911.444, rel=1e-6)
    # 1 Ry/bohr² = 13.6057 / 0.52918² eV/Å² = 48.587 eV/Å²
    assert units.force_constant_ry_to_ev(1.0) == pytest.approx(48.5871, rel=1e-5)


def test_round_trips():
    rng = np.random.default_rng(7)
    energies = rng.normal(size=5)
    forces = rng.normal(size=(5, 4, 3))
    stress = rng.normal(size=(5, 3, 3))
    np.testing.assert_allclose(units.energy_ry_to_ev(units.energy_ev_to_ry(energies)), energies)
    np.testing.assert_allclose(units.forces_ry_to_ev(units.forces_ev_to_ry(forces)), forces)
    np.testing.assert_allclose(units.stress_sscha_to_ase(units.stress_ase_to_sscha(stress)), stress)
    np.testing.assert_allclose(
        units.stress_gpa_to_ev_per_angstrom3(units.stress_ev_per_angstrom3_to_gpa(stress)), stress
    )
    np.testing.assert_allclose(
        units.frequency_cm1_to_ry(units.frequency_ry_to_cm1(energies)), energies
    )
    np.testing.assert_allclose(units.mass_ry_to_amu(units.mass_amu_to_ry(energies)), energies)
    np.testing.assert_allclose(
        units.force_constant_ry_to_ev(units.force_constant_ev_to_ry(stress)), stress
    )


def test_stress_sign_and_magnitude_match_python_sscha_convention():
    """Hydrostatic compression: ASE stress is negative, python-sscha's is positive (a pressure)."""
    from ase.units import GPa

    ase_stress = -10.0 * GPa * np.eye(3)  # 10 GPa of pressure in ASE's sign convention
    sscha_stress = units.stress_ase_to_sscha(ase_stress)
    assert np.all(np.diag(sscha_stress) > 0)
    # 10 GPa in Ry/bohr³: 10 / 160.2177 eV/Å³ * 0.529177³ / 13.6057
    expected = 10.0 / 160.21766 * 0.52917721**3 / 13.6056931
    np.testing.assert_allclose(np.diag(sscha_stress), expected, rtol=1e-6)
    assert units.pressure_gpa_from_sscha_stress(sscha_stress) == pytest.approx(10.0, rel=1e-9)


def test_voigt_stress_is_expanded():
    voigt = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # xx yy zz yz xz xy
    matrix = units.stress_sscha_to_ase(units.stress_ase_to_sscha(voigt))
    np.testing.assert_allclose(matrix, [[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    with pytest.raises(ValueError, match="shape"):
        units.stress_ase_to_sscha(np.zeros(5))


def test_python_sscha_uses_the_same_constants():
    """The factors python-sscha applies to ASE results (ase.units) and cellconstructor's factors."""
    import cellconstructor.Units as ccu

    assert units.RY_TO_EV == pytest.approx(float(ccu.RY_TO_EV), rel=1e-12)
    assert units.RY_TO_CM1 == pytest.approx(float(ccu.RY_TO_CM), rel=1e-12)
    assert 1.0 / units.AMU_TO_RY_MASS == pytest.approx(float(ccu.MASS_RY_TO_UMA), rel=1e-12)
    assert units.BOHR_TO_ANGSTROM == pytest.approx(float(ccu.BOHR_TO_ANGSTROM), rel=1e-6)


def test_one_units_module():
    """The old per-package modules are gone and the other modules take their factors from here."""
    import importlib

    from aiida_clathrate import phonons
    from aiida_clathrate.eliashberg import models

    for old in ("aiida_clathrate.sscha.units", "aiida_clathrate.eliashberg.units"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)
    assert units.KBAR_PER_GPA == 10.0
    assert units.EV_PER_ANGSTROM3_IN_GPA == units.EV_PER_ANGSTROM3_TO_GPA
    assert units.EV_PER_ANGSTROM3_IN_GPA == pytest.approx(160.21766208, rel=1e-10)
    assert units.THZ_TO_CM1 == pytest.approx(1e12 / 29979245800.0, rel=1e-12)
    assert units.CM1_TO_MEV == units.MEV_PER_UNIT["cm-1"]
    assert units.to_mev(1.0, "Ry") == pytest.approx(13605.693122994)  # CODATA 2018, as QE
    assert units.MEV_PER_UNIT["thz"] / units.MEV_PER_UNIT["cm-1"] == pytest.approx(
        units.THZ_TO_CM1, rel=1e-9
    )
    assert phonons.THZ_TO_CM1 is units.THZ_TO_CM1
    assert models.CM1_TO_MEV is units.CM1_TO_MEV


def test_mlp_stress_factor_is_the_units_one():
    from aiida_clathrate.mlp import training

    assert training.EV_PER_ANGSTROM3_IN_GPA is units.EV_PER_ANGSTROM3_IN_GPA


def test_sscha_helpers_import_nothing_from_aiida():
    import subprocess
    import sys

    code = (
        "import sys, aiida_clathrate.units, aiida_clathrate.eliashberg.mustar, "
        "aiida_clathrate.sscha, aiida_clathrate.sscha.cli; "
        "print(any(m == 'aiida' or m.startswith('aiida.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
