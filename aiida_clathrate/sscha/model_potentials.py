"""Model ASE calculators with known SSCHA answers, for checks (no AiiDA import).

:class:`QuarticDimerCalculator`: two atoms joined by a spring that is quartic in each Cartesian
component of their relative displacement x = (r₁ - r₂) - (r₁⁰ - r₂⁰):

    V = Σ_α [ ½ k x_α² + ¼ g x_α⁴ ]

It is translation invariant (python-sscha removes the three translations at Γ) and leaves three
degenerate optical modes, each a one-dimensional quartic oscillator of reduced mass
μ = m₁m₂/(m₁+m₂). The self-consistent harmonic frequency solves
μω² = k + 3g⟨x²⟩ with ⟨x²⟩ = ħ/(2μω)·coth(ħω/2k_BT).
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class QuarticDimerCalculator(Calculator):
    """Energy (eV) and forces (eV/Å) of the quartic dimer; stress is zero (no volume dependence)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self,
        reference_positions_angstrom: np.ndarray,
        k_ev_per_angstrom2: float,
        g_ev_per_angstrom4: float,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        reference = np.asarray(reference_positions_angstrom, dtype=float)
        if reference.shape != (2, 3):
            raise ValueError(f"reference positions must have shape (2, 3), got {reference.shape}")
        if k_ev_per_angstrom2 <= 0 or g_ev_per_angstrom4 < 0:
            raise ValueError(
                f"need k > 0 and g >= 0, got k={k_ev_per_angstrom2}, g={g_ev_per_angstrom4}"
            )
        self.reference = reference
        self.k = float(k_ev_per_angstrom2)
        self.g = float(g_ev_per_angstrom4)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        positions = self.atoms.get_positions()
        if positions.shape != (2, 3):
            raise ValueError("QuarticDimerCalculator needs exactly two atoms")
        cell = self.atoms.cell[:] if np.any(self.atoms.pbc) else None
        energies, forces = quartic_dimer_energies_forces(
            positions[None], self.reference, self.k, self.g, cell
        )
        self.results = {
            "energy": float(energies[0]),
            "free_energy": float(energies[0]),
            "forces": forces[0],
            "stress": np.zeros(6),
        }


def quartic_dimer_energies_forces(
    positions_angstrom: np.ndarray,
    reference_positions_angstrom: np.ndarray,
    k_ev_per_angstrom2: float,
    g_ev_per_angstrom4: float,
    cell_angstrom: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised energies (N,) in eV and forces (N, 2, 3) in eV/Å of the quartic dimer.

    With a cell, the relative displacement is taken at its minimum image (wrapped atoms are fine).
    """
    positions = np.asarray(positions_angstrom, dtype=float)
    reference = np.asarray(reference_positions_angstrom, dtype=float)
    x = (positions[:, 0] - positions[:, 1]) - (reference[0] - reference[1])
    if cell_angstrom is not None:
        cell = np.asarray(cell_angstrom, dtype=float)
        fractional = x @ np.linalg.inv(cell)
        x = (fractional - np.round(fractional)) @ cell
    energies = np.sum(0.5 * k_ev_per_angstrom2 * x**2 + 0.25 * g_ev_per_angstrom4 * x**4, axis=1)
    force_on_first = -(k_ev_per_angstrom2 * x + g_ev_per_angstrom4 * x**3)
    return energies, np.stack([force_on_first, -force_on_first], axis=1)
