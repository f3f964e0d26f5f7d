"""Energy units used by the Eliashberg kernel: everything is meV internally."""

from __future__ import annotations

import numpy as np

KB_MEV_PER_KELVIN = 0.08617333262
"""Boltzmann constant in meV/K."""

MEV_PER_UNIT: dict[str, float] = {
    "mev": 1.0,
    "ev": 1000.0,
    "thz": 4.135667696,  # h * 1 THz
    "cm-1": 0.1239841984,  # h c * 1 cm^-1
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
