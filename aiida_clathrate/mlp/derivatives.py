"""Forces and stress of one configuration by autograd, through its positions and a zero strain."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from .descriptors import strained
from .stress import virial_stress


@dataclasses.dataclass
class StrainedConfiguration:
    """One configuration as autograd leaves: ``positions`` (Å, requiring grad) and a zero
    ``strain``; descriptors are computed from ``strained_positions`` and ``strained_cell``."""

    positions: torch.Tensor
    cell: torch.Tensor
    pbc: tuple[bool, bool, bool]
    strain: torch.Tensor
    strained_positions: torch.Tensor
    strained_cell: torch.Tensor

    @classmethod
    def build(
        cls, positions_angstrom, cell_angstrom, pbc: Sequence[bool], dtype: torch.dtype
    ) -> StrainedConfiguration:
        positions = torch.as_tensor(np.asarray(positions_angstrom), dtype=dtype).reshape(-1, 3)
        positions = positions.clone().requires_grad_(True)
        cell = torch.as_tensor(np.asarray(cell_angstrom), dtype=dtype).reshape(3, 3)
        strain = torch.zeros((3, 3), dtype=dtype, requires_grad=True)
        strained_positions, strained_cell = strained(positions, cell, strain)
        return cls(
            positions,
            cell,
            tuple(bool(p) for p in np.broadcast_to(pbc, 3)),
            strain,
            strained_positions,
            strained_cell,
        )

    def forces_and_stress(self, energy: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Forces −∂E/∂r (eV/Å) and, for a periodic cell, the stress sym(∂E/∂ε)/V (eV/Å³, ASE
        sign) of the scalar ``energy`` (eV) computed from this configuration."""
        return self.forces_and_stress_from(*self.gradients(energy))

    def gradients(
        self, energy: torch.Tensor, retain_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(∂E/∂r, ∂E/∂ε)`` of the scalar ``energy``."""
        return torch.autograd.grad(energy, (self.positions, self.strain), retain_graph=retain_graph)

    def forces_and_stress_from(
        self, grad_positions: torch.Tensor, grad_strain: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Forces and stress (as :meth:`forces_and_stress`) from the energy's gradients."""
        stress = None
        if all(self.pbc):
            volume = torch.abs(torch.linalg.det(self.cell))
            stress = virial_stress(grad_strain, volume).detach().numpy()
        return (-grad_positions).detach().numpy(), stress
