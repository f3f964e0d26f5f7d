"""``ConfigurationSetData``: a labelled set of atomic configurations stored as arrays in one node."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
from aiida.orm import ArrayData

from aiida_clathrate.mlp.frames import (
    Frame,
    frame_from_atoms,
    frame_to_atoms,
    read_frames,
    write_frames,
)

__all__ = ("ConfigurationSetData",)


class ConfigurationSetData(ArrayData):
    """Configurations (positions, cells, species) with optional energies, forces and stresses.

    Arrays: ``atom_counts`` (n_conf,), ``atomic_numbers`` and ``positions`` (all atoms
    concatenated), ``cells`` (n_conf, 3, 3), ``pbc`` (n_conf, 3), and where labelled ``energies``
    (eV), ``forces`` (eV/Å, concatenated) and ``stresses`` (n_conf, 3, 3, eV/Å³ ASE convention;
    NaN where a configuration has none). Units are in the ``units`` attribute.
    """

    UNITS = {
        "energies": "eV",
        "forces": "eV/angstrom",
        "stresses": "eV/angstrom^3",
        "positions": "angstrom",
    }

    def __init__(self, frames: Sequence[Frame] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if frames is not None:
            self.set_frames(frames)

    # ---- construction -------------------------------------------------------------------
    def set_frames(self, frames: Sequence[Frame]) -> None:
        """Store the frames; all or none must carry each kind of label."""
        from ase.data import atomic_numbers

        frames = list(frames)
        if not frames:
            raise ValueError("a configuration set needs at least one configuration")
        for name in ("energy_ev", "forces_ev_per_angstrom"):
            present = [getattr(f, name) is not None for f in frames]
            if any(present) and not all(present):
                raise ValueError(f"label {name} is present in some configurations but not all")
        try:
            numbers = [atomic_numbers[s] for f in frames for s in f.symbols]
        except KeyError as exc:
            raise ValueError(f"unknown chemical symbol {exc}") from exc
        self.set_array("atom_counts", np.array([f.n_atoms for f in frames], dtype=np.int64))
        self.set_array("atomic_numbers", np.array(numbers, dtype=np.int64))
        self.set_array("positions", np.concatenate([f.positions_angstrom for f in frames]))
        self.set_array("cells", np.stack([f.cell_angstrom for f in frames]))
        self.set_array("pbc", np.array([f.pbc for f in frames], dtype=bool))
        if frames[0].energy_ev is not None:
            self.set_array("energies", np.array([f.energy_ev for f in frames]))
        if frames[0].forces_ev_per_angstrom is not None:
            self.set_array("forces", np.concatenate([f.forces_ev_per_angstrom for f in frames]))
        if any(f.stress_ev_per_angstrom3 is not None for f in frames):
            stresses = np.full((len(frames), 3, 3), np.nan)
            for k, f in enumerate(frames):
                if f.stress_ev_per_angstrom3 is not None:
                    stresses[k] = f.stress_ev_per_angstrom3
            self.set_array("stresses", stresses)
        self.base.attributes.set("n_configurations", len(frames))
        self.base.attributes.set("elements", sorted({s for f in frames for s in f.symbols}))
        self.base.attributes.set("units", dict(self.UNITS))

    @classmethod
    def from_ase(cls, images, **kwargs) -> ConfigurationSetData:
        """From a list of ``ase.Atoms`` (labels from their calculators or ``info``/``arrays``)."""
        return cls(frames=[frame_from_atoms(a) for a in images], **kwargs)

    @classmethod
    def from_extxyz(
        cls, path: str | pathlib.Path, index: str = ":", **kwargs
    ) -> ConfigurationSetData:
        return cls(frames=read_frames(path, index=index), **kwargs)

    # ---- access -------------------------------------------------------------------------
    @property
    def n_configurations(self) -> int:
        return int(self.base.attributes.get("n_configurations"))

    def has_labels(self, name: str) -> bool:
        return name in self.get_arraynames()

    def to_frames(self) -> list[Frame]:
        from ase.data import chemical_symbols

        counts = self.get_array("atom_counts")
        offsets = np.concatenate([[0], np.cumsum(counts)])
        numbers = self.get_array("atomic_numbers")
        positions = self.get_array("positions")
        cells = self.get_array("cells")
        pbc = self.get_array("pbc")
        names = self.get_arraynames()
        energies = self.get_array("energies") if "energies" in names else None
        forces = self.get_array("forces") if "forces" in names else None
        stresses = self.get_array("stresses") if "stresses" in names else None
        frames = []
        for k in range(len(counts)):
            atoms = slice(offsets[k], offsets[k + 1])
            stress = None
            if stresses is not None and not np.isnan(stresses[k]).any():
                stress = stresses[k]
            frames.append(
                Frame(
                    symbols=tuple(chemical_symbols[z] for z in numbers[atoms]),
                    positions_angstrom=positions[atoms],
                    cell_angstrom=cells[k],
                    pbc=tuple(bool(p) for p in pbc[k]),
                    energy_ev=None if energies is None else float(energies[k]),
                    forces_ev_per_angstrom=None if forces is None else forces[atoms],
                    stress_ev_per_angstrom3=stress,
                )
            )
        return frames

    def to_ase(self) -> list:
        """A list of ``ase.Atoms`` with labels on ``SinglePointCalculator``s."""
        return [frame_to_atoms(f) for f in self.to_frames()]

    def write_extxyz(self, path: str | pathlib.Path) -> None:
        write_frames(path, self.to_frames())
