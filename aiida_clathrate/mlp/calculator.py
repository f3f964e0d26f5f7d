"""ASE calculator for a trained committee (energy, forces, stress and the committee spread)."""

from __future__ import annotations

import pathlib

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .potential import CommitteePotential, load_potential


class MlpCalculator(Calculator):
    """ASE calculator: ``results`` hold ``energy``, ``free_energy``, ``forces``, ``stress`` (Voigt,
    eV/Å³) and the committee spread ``energy_std`` (eV), ``committee_energies`` (eV) and, with
    ``member_forces=True``, ``forces_std`` (eV/Å, per atom and component)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energy_std"]

    def __init__(
        self,
        model: CommitteePotential | str | pathlib.Path,
        member_forces: bool = False,
        dtype: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model if isinstance(model, CommitteePotential) else load_potential(model)
        if dtype is not None:
            self.model.set_dtype(dtype)
        self.model.eval()
        self.member_forces = member_forces

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        prediction = self.model.predict(
            atoms.get_chemical_symbols(),
            atoms.get_positions(),
            np.asarray(atoms.get_cell()),
            atoms.get_pbc(),
            member_forces=self.member_forces,
        )
        self.results = {
            "energy": prediction.energy_ev,
            "free_energy": prediction.energy_ev,
            "forces": prediction.forces_ev_per_angstrom,
            "energy_std": prediction.energy_std_ev,
            "committee_energies": prediction.member_energies_ev,
        }
        if prediction.kernel_energy_ev is not None:
            self.results["kernel_energy"] = prediction.kernel_energy_ev
        if prediction.stress_ev_per_angstrom3 is not None:
            s = prediction.stress_ev_per_angstrom3
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
        if prediction.forces_std_ev_per_angstrom is not None:
            self.results["forces_std"] = prediction.forces_std_ev_per_angstrom
