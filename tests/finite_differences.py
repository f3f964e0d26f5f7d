"""Central differences of an energy under a symmetric strain, shared by the stress tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def strain_derivative(
    energy: Callable[[np.ndarray, np.ndarray], float],
    positions_angstrom: np.ndarray,
    cell_angstrom: np.ndarray,
    a: int,
    b: int,
    h: float = 1e-5,
) -> float:
    """dE/dε_ab (eV) of ``energy(positions, cell)`` by central differences, for the symmetric
    strain ε_ab = ε_ba (``r' = r (I + ε)``): (1/V) of it is the stress component σ_ab."""
    strain = np.zeros((3, 3))
    strain[a, b] = strain[b, a] = h / (2 if a != b else 1)
    values = []
    for sign in (1, -1):
        deformation = np.eye(3) + sign * strain
        values.append(energy(positions_angstrom @ deformation, cell_angstrom @ deformation))
    return (values[0] - values[1]) / (2 * h)
