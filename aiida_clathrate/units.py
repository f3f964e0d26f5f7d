"""The package's one units module: physical constants and conversions (no AiiDA import).

Two families of energy constants live here on purpose, each matching the program it talks to:

* **Eliashberg kernel and Quantum ESPRESSO files** (``MEV_PER_UNIT``, ``to_mev``, ...): everything
  is meV internally; the factors are CODATA 2018, as in Quantum ESPRESSO's ``constants.f90``
  (1 Ry = 13605.693122994 meV), so a2F.dosN and matdyn outputs convert exactly.
* **python-sscha / cellconstructor** (``RY_TO_EV``, ``stress_ase_to_sscha``, ...): the constants
  python-sscha itself uses when it converts ASE results (``ase.units``, CODATA 2014) and
  cellconstructor's Rydberg-to-cm⁻¹ factor, so round trips through python-sscha are exact to
  machine precision.  They differ from the CODATA 2018 ones in the 8th digit.

python-sscha (``Ensemble`` in its ``"default"`` units) and cellconstructor use:

===============================  ===========================================================
quantity                         python-sscha / cellconstructor
===============================  ===========================================================
energy                           Ry
forces                           Ry/Å
positions, cell                  Å
stress                           Ry/bohr³, sign **opposite** to ASE (positive = compression)
dynamical matrix (``dynmats``)   Ry/bohr² (force constants; not mass-weighted)
masses (``structure.masses``)    Rydberg atomic units: 1 unit = 2 m_e (1 amu = 911.44)
frequencies (``DyagDinQ``)       Ry (ħω with ħ = 1); negative = imaginary
===============================  ===========================================================

ASE/AiiDA: eV, eV/Å, Å, stress in eV/Å³ with ASE's sign (positive = tensile; pressure is
``-trace/3``) or GPa, masses in amu, frequencies in cm⁻¹.  Quantum ESPRESSO's ``press`` is in kbar.
"""

from __future__ import annotations

import numpy as np
from ase import units as _ase_units

# --------------------------------------------------------------------------------------------
# Pressure and frequency factors
# --------------------------------------------------------------------------------------------

#: kbar per GPa (Quantum ESPRESSO's ``CELL.press`` is in kbar).
KBAR_PER_GPA: float = 10.0
#: GPa per eV/Å³ (1 / ase.units.GPa, CODATA 2014).
EV_PER_ANGSTROM3_TO_GPA: float = 1.0 / float(_ase_units.GPa)
#: Same factor under the name the MLP code uses: a stress in eV/Å³ times this is in GPa.
EV_PER_ANGSTROM3_IN_GPA: float = EV_PER_ANGSTROM3_TO_GPA
#: cm⁻¹ per THz (1e12 Hz / c in cm/s).
THZ_TO_CM1: float = 33.35640951981521

# --------------------------------------------------------------------------------------------
# Energies for the Eliashberg kernel: everything is meV internally (CODATA 2018, as QE)
# --------------------------------------------------------------------------------------------

KB_MEV_PER_KELVIN = 0.08617333262
"""Boltzmann constant in meV/K."""

#: meV per cm⁻¹ (h c * 1 cm⁻¹).
CM1_TO_MEV: float = 0.1239841984

MEV_PER_UNIT: dict[str, float] = {
    "mev": 1.0,
    "ev": 1000.0,
    "thz": 4.135667696,  # h * 1 THz
    "cm-1": CM1_TO_MEV,  # h c * 1 cm^-1
    "ry": 13605.693122994,  # 1 Rydberg
    "k": KB_MEV_PER_KELVIN,  # k_B * 1 K
}

_ALIASES = {
    "mev": "mev",
    "ev": "ev",
    "thz": "thz",
    "cm-1": "cm-1",
    "cm^-1": "cm-1",
    "cm**-1": "cm-1",
    "1/cm": "cm-1",
    "cm^{-1}": "cm-1",
    "invcm": "cm-1",
    "ry": "ry",
    "rydberg": "ry",
    "k": "k",
    "kelvin": "k",
}


def normalize_unit(unit: str) -> str:
    """Return the canonical lower-case name of an energy unit, or raise ``ValueError``."""
    key = str(unit).strip().lower().replace(" ", "")
    if key not in _ALIASES:
        raise ValueError(
            f"unknown frequency unit {unit!r}; accepted: meV, eV, THz, cm-1 (cm^-1, 1/cm), Ry, K"
        )
    return _ALIASES[key]


def to_mev(values, unit: str) -> np.ndarray:
    """Convert energies/frequencies given in ``unit`` to meV."""
    return np.asarray(values, dtype=float) * MEV_PER_UNIT[normalize_unit(unit)]


def from_mev(values, unit: str) -> np.ndarray:
    """Convert energies in meV to ``unit``."""
    return np.asarray(values, dtype=float) / MEV_PER_UNIT[normalize_unit(unit)]


def kelvin_to_mev(temperature_kelvin):
    """k_B T in meV."""
    return np.asarray(temperature_kelvin, dtype=float) * KB_MEV_PER_KELVIN


def mev_to_kelvin(energy_mev):
    """Energy in meV expressed as a temperature E / k_B in K."""
    return np.asarray(energy_mev, dtype=float) / KB_MEV_PER_KELVIN


# --------------------------------------------------------------------------------------------
# python-sscha / cellconstructor <-> ASE / AiiDA (ase.units, CODATA 2014, as python-sscha)
# --------------------------------------------------------------------------------------------

#: eV per Rydberg (ase.units.Rydberg; python-sscha divides ASE energies by this).
RY_TO_EV: float = float(_ase_units.Rydberg)
#: Å per bohr (ase.units.Bohr).
BOHR_TO_ANGSTROM: float = float(_ase_units.Bohr)
#: cm⁻¹ per Rydberg (cellconstructor.Units.RY_TO_CM).
RY_TO_CM1: float = 109737.36034769034
#: electron masses per atomic mass unit (cellconstructor.Units.ELECTRON_MASS_UMA).
ELECTRON_MASS_PER_AMU: float = 1822.8885468045
#: Rydberg mass units (2 m_e) per amu.
AMU_TO_RY_MASS: float = ELECTRON_MASS_PER_AMU / 2.0

#: Ry/bohr³ per eV/Å³ (magnitude only; see the stress functions for the sign).
_EV_PER_A3_TO_RY_PER_BOHR3 = BOHR_TO_ANGSTROM**3 / RY_TO_EV


def energy_ry_to_ev(energy_ry):
    """Energy (scalar or array) from Ry to eV."""
    return np.asarray(energy_ry, dtype=float) * RY_TO_EV


def energy_ev_to_ry(energy_ev):
    """Energy (scalar or array) from eV to Ry."""
    return np.asarray(energy_ev, dtype=float) / RY_TO_EV


def forces_ry_to_ev(forces_ry_per_angstrom):
    """Forces from Ry/Å (python-sscha) to eV/Å (ASE)."""
    return np.asarray(forces_ry_per_angstrom, dtype=float) * RY_TO_EV


def forces_ev_to_ry(forces_ev_per_angstrom):
    """Forces from eV/Å (ASE) to Ry/Å (python-sscha)."""
    return np.asarray(forces_ev_per_angstrom, dtype=float) / RY_TO_EV


def _as_matrix_stress(stress) -> np.ndarray:
    """A (..., 3, 3) stress from (..., 3, 3) or ASE Voigt (..., 6): xx, yy, zz, yz, xz, xy."""
    stress = np.asarray(stress, dtype=float)
    if stress.shape[-2:] == (3, 3):
        return stress
    if stress.shape[-1] == 6:
        xx, yy, zz, yz, xz, xy = np.moveaxis(stress, -1, 0)
        rows = [
            np.stack([xx, xy, xz], axis=-1),
            np.stack([xy, yy, yz], axis=-1),
            np.stack([xz, yz, zz], axis=-1),
        ]
        return np.stack(rows, axis=-2)
    raise ValueError(f"stress must have shape (..., 3, 3) or (..., 6), got {stress.shape}")


def stress_ase_to_sscha(stress_ev_per_angstrom3):
    """ASE stress (eV/Å³, ASE sign; 3x3 or Voigt) -> python-sscha stress (Ry/bohr³, opposite sign)."""
    return -_as_matrix_stress(stress_ev_per_angstrom3) * _EV_PER_A3_TO_RY_PER_BOHR3


def stress_sscha_to_ase(stress_ry_per_bohr3):
    """python-sscha stress (Ry/bohr³, 3x3) -> ASE stress (eV/Å³, ASE sign, 3x3)."""
    return -_as_matrix_stress(stress_ry_per_bohr3) / _EV_PER_A3_TO_RY_PER_BOHR3


def stress_ev_per_angstrom3_to_gpa(stress_ev_per_angstrom3):
    """eV/Å³ -> GPa (sign kept)."""
    return np.asarray(stress_ev_per_angstrom3, dtype=float) * EV_PER_ANGSTROM3_TO_GPA


def stress_gpa_to_ev_per_angstrom3(stress_gpa):
    """GPa -> eV/Å³ (sign kept)."""
    return np.asarray(stress_gpa, dtype=float) / EV_PER_ANGSTROM3_TO_GPA


def pressure_gpa_from_sscha_stress(stress_ry_per_bohr3) -> float:
    """Pressure (GPa, positive = compression) from a python-sscha stress: trace/3 in its sign."""
    stress = _as_matrix_stress(stress_ry_per_bohr3)
    return float(np.trace(stress) / 3.0 / _EV_PER_A3_TO_RY_PER_BOHR3 * EV_PER_ANGSTROM3_TO_GPA)


def frequency_ry_to_cm1(frequency_ry):
    """Frequencies from Ry (cellconstructor) to cm⁻¹ (sign kept: negative = imaginary)."""
    return np.asarray(frequency_ry, dtype=float) * RY_TO_CM1


def frequency_cm1_to_ry(frequency_cm1):
    """Frequencies from cm⁻¹ to Ry."""
    return np.asarray(frequency_cm1, dtype=float) / RY_TO_CM1


def mass_amu_to_ry(mass_amu):
    """Atomic mass from amu to Rydberg mass units (2 m_e), as in ``Structure.masses``."""
    return np.asarray(mass_amu, dtype=float) * AMU_TO_RY_MASS


def mass_ry_to_amu(mass_ry):
    """Atomic mass from Rydberg mass units to amu."""
    return np.asarray(mass_ry, dtype=float) / AMU_TO_RY_MASS


def force_constant_ev_to_ry(fc_ev_per_angstrom2):
    """Force constants from eV/Å² to Ry/bohr² (cellconstructor ``dynmats``)."""
    return np.asarray(fc_ev_per_angstrom2) * BOHR_TO_ANGSTROM**2 / RY_TO_EV


def force_constant_ry_to_ev(fc_ry_per_bohr2):
    """Force constants from Ry/bohr² to eV/Å²."""
    return np.asarray(fc_ry_per_bohr2) * RY_TO_EV / BOHR_TO_ANGSTROM**2
