"""``EnsembleData``: one SSCHA population (all configurations) in one array node."""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm

__all__ = ("EnsembleData",)


class EnsembleData(orm.ArrayData):
    """Configurations of one population in the supercell, with their results once computed.

    Arrays: ``positions_angstrom`` (N, n_atoms, 3), ``reference_positions_angstrom`` (n_atoms, 3,
    the undisplaced supercell of the generating matrix) and, with results, ``energies_ev`` (N,),
    ``forces_ev_per_angstrom`` (N, n_atoms, 3) and optionally ``stresses_ev_per_angstrom3``
    (N, 3, 3, ASE sign). Attributes: ``symbols``, ``cell_angstrom``, ``n_configurations``,
    ``temperature_kelvin``, ``seed``, ``supercell``, ``dynamical_matrices_uuid`` (the matrix
    that generated it), ``has_results``.
    """

    def __init__(
        self,
        positions_angstrom: np.ndarray | None = None,
        reference_positions_angstrom: np.ndarray | None = None,
        cell_angstrom: np.ndarray | None = None,
        symbols: list[str] | None = None,
        temperature_kelvin: float | None = None,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if positions_angstrom is not None:
            self.set_configurations(
                positions_angstrom,
                reference_positions_angstrom,
                cell_angstrom,
                symbols,
                temperature_kelvin,
                seed,
            )

    def set_configurations(
        self,
        positions_angstrom,
        reference_positions_angstrom,
        cell_angstrom,
        symbols,
        temperature_kelvin: float,
        seed: int,
    ) -> None:
        """Store the positions and their supercell reference; results are set separately."""
        positions = np.asarray(positions_angstrom, dtype=float)
        reference = np.asarray(reference_positions_angstrom, dtype=float)
        cell = np.asarray(cell_angstrom, dtype=float)
        symbols = [str(s) for s in symbols]
        if positions.ndim != 3 or positions.shape[0] < 1 or positions.shape[2] != 3:
            raise ValueError(f"positions must have shape (N, n_atoms, 3), got {positions.shape}")
        n_atoms = positions.shape[1]
        if reference.shape != (n_atoms, 3) or len(symbols) != n_atoms:
            raise ValueError(
                f"reference positions {reference.shape} and {len(symbols)} symbols do not match "
                f"{n_atoms} atoms"
            )
        if cell.shape != (3, 3):
            raise ValueError(f"cell must be 3x3, got {cell.shape}")
        if temperature_kelvin is None or temperature_kelvin < 0:
            raise ValueError(f"temperature_kelvin must be >= 0, got {temperature_kelvin}")
        if seed is None or int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.set_array("positions_angstrom", positions)
        self.set_array("reference_positions_angstrom", reference)
        self.base.attributes.set("symbols", symbols)
        self.base.attributes.set("cell_angstrom", cell.tolist())
        self.base.attributes.set("n_configurations", int(positions.shape[0]))
        self.base.attributes.set("n_atoms", int(n_atoms))
        self.base.attributes.set("temperature_kelvin", float(temperature_kelvin))
        self.base.attributes.set("seed", int(seed))
        self.base.attributes.set("has_results", False)

    def set_results(
        self,
        energies_ev,
        forces_ev_per_angstrom,
        stresses_ev_per_angstrom3=None,
    ) -> None:
        """Energies (eV), forces (eV/Å) and optional stresses (eV/Å³, ASE sign, 3x3 or Voigt)."""
        from aiida_clathrate.units import stress_ase_to_sscha, stress_sscha_to_ase

        n, n_atoms = self.n_configurations, self.base.attributes.get("n_atoms")
        energies = np.asarray(energies_ev, dtype=float)
        forces = np.asarray(forces_ev_per_angstrom, dtype=float)
        if energies.shape != (n,):
            raise ValueError(f"energies must have shape ({n},), got {energies.shape}")
        if forces.shape != (n, n_atoms, 3):
            raise ValueError(f"forces must have shape ({n}, {n_atoms}, 3), got {forces.shape}")
        if not (np.all(np.isfinite(energies)) and np.all(np.isfinite(forces))):
            raise ValueError("energies and forces must be finite")
        self.set_array("energies_ev", energies)
        self.set_array("forces_ev_per_angstrom", forces)
        if stresses_ev_per_angstrom3 is not None:
            # through the sscha convention and back: accepts Voigt or 3x3, always stores 3x3
            stresses = stress_sscha_to_ase(stress_ase_to_sscha(stresses_ev_per_angstrom3))
            if stresses.shape != (n, 3, 3):
                raise ValueError(f"stresses must have shape ({n}, 3, 3), got {stresses.shape}")
            self.set_array("stresses_ev_per_angstrom3", stresses)
        self.base.attributes.set("has_results", True)

    def set_generating_matrix(self, folder: orm.FolderData) -> None:
        """Record (by uuid) the dynamical matrix ``FolderData`` that generated the positions.

        The folder may still be unstored (a parser output); its uuid does not change on storing.
        """
        self.base.attributes.set("dynamical_matrices_uuid", folder.uuid)
        mesh = folder.base.attributes.get("qpoints_mesh", None)
        if mesh is not None:
            self.base.attributes.set("supercell", [int(m) for m in mesh])

    def derived(self, positions_angstrom: np.ndarray) -> EnsembleData:
        """A new, result-less ensemble with other positions and everything else of this one
        (reference positions, cell, symbols, temperature, seed, generating matrix, supercell)."""
        result = EnsembleData(
            positions_angstrom=positions_angstrom,
            reference_positions_angstrom=self.get_array("reference_positions_angstrom"),
            cell_angstrom=self.cell_angstrom,
            symbols=self.symbols,
            temperature_kelvin=self.temperature_kelvin,
            seed=self.seed,
        )
        for key in ("dynamical_matrices_uuid", "supercell"):
            value = self.base.attributes.get(key, None)
            if value is not None:
                result.base.attributes.set(key, value)
        return result

    # ---- accessors ----------------------------------------------------------------------
    @property
    def n_configurations(self) -> int:
        return int(self.base.attributes.get("n_configurations"))

    @property
    def temperature_kelvin(self) -> float:
        return float(self.base.attributes.get("temperature_kelvin"))

    @property
    def seed(self) -> int:
        return int(self.base.attributes.get("seed"))

    @property
    def has_results(self) -> bool:
        return bool(self.base.attributes.get("has_results", False))

    @property
    def symbols(self) -> list[str]:
        return list(self.base.attributes.get("symbols"))

    @property
    def cell_angstrom(self) -> np.ndarray:
        return np.array(self.base.attributes.get("cell_angstrom"))

    def get_generating_matrix(self) -> orm.FolderData | None:
        uuid = self.base.attributes.get("dynamical_matrices_uuid", None)
        return orm.load_node(uuid) if uuid else None

    def to_atoms_list(self) -> list:
        """One periodic ASE ``Atoms`` per configuration."""
        from ase import Atoms

        cell = self.cell_angstrom
        return [
            Atoms(self.symbols, positions=p, cell=cell, pbc=True)
            for p in self.get_array("positions_angstrom")
        ]

    def get_results(self) -> dict[str, np.ndarray]:
        """Result arrays keyed by their names (units in the keys)."""
        if not self.has_results:
            raise ValueError("this ensemble has no results yet")
        keys = ("energies_ev", "forces_ev_per_angstrom", "stresses_ev_per_angstrom3")
        return {k: self.get_array(k) for k in keys if k in self.get_arraynames()}

    def write_npz(self, path: str | pathlib.Path) -> None:
        """The ``ensemble.npz`` read by ``aiida-clathrate-sscha minimize``."""
        arrays = {"positions_angstrom": self.get_array("positions_angstrom")}
        if self.has_results:
            arrays.update(self.get_results())
        np.savez(path, **arrays)

    @classmethod
    def from_population_npz(
        cls, path: str | pathlib.Path, temperature_kelvin: float, seed: int
    ) -> EnsembleData:
        """An unstored node from a ``next_population.npz`` written by the console script."""
        with np.load(path) as data:
            return cls(
                positions_angstrom=data["positions_angstrom"],
                reference_positions_angstrom=data["reference_positions_angstrom"],
                cell_angstrom=data["cell_angstrom"],
                symbols=[str(s) for s in data["symbols"]],
                temperature_kelvin=temperature_kelvin,
                seed=seed,
            )
