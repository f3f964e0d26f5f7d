"""Labelled atomic configurations ("frames") and their extxyz / ASE conversions."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterable, Sequence

import numpy as np


@dataclasses.dataclass
class Frame:
    """One configuration with optional DFT labels (eV, eV/Å, eV/Å³ in the ASE stress convention)."""

    symbols: tuple[str, ...]
    positions_angstrom: np.ndarray
    cell_angstrom: np.ndarray
    pbc: tuple[bool, bool, bool] = (True, True, True)
    energy_ev: float | None = None
    forces_ev_per_angstrom: np.ndarray | None = None
    stress_ev_per_angstrom3: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.symbols = tuple(str(s) for s in self.symbols)
        self.positions_angstrom = np.asarray(self.positions_angstrom, dtype=float).reshape(-1, 3)
        self.cell_angstrom = np.asarray(self.cell_angstrom, dtype=float).reshape(3, 3)
        self.pbc = tuple(bool(p) for p in np.broadcast_to(self.pbc, 3))
        if len(self.symbols) != len(self.positions_angstrom):
            raise ValueError(
                f"{len(self.symbols)} symbols but {len(self.positions_angstrom)} positions"
            )
        if self.forces_ev_per_angstrom is not None:
            self.forces_ev_per_angstrom = np.asarray(self.forces_ev_per_angstrom, float).reshape(
                -1, 3
            )
            if self.forces_ev_per_angstrom.shape != self.positions_angstrom.shape:
                raise ValueError("forces and positions have different shapes")
        if self.stress_ev_per_angstrom3 is not None:
            self.stress_ev_per_angstrom3 = voigt_or_matrix_to_matrix(self.stress_ev_per_angstrom3)
        if self.energy_ev is not None:
            self.energy_ev = float(self.energy_ev)
        for name in (
            "positions_angstrom",
            "cell_angstrom",
            "energy_ev",
            "forces_ev_per_angstrom",
            "stress_ev_per_angstrom3",
        ):
            value = getattr(self, name)
            if value is not None and not np.all(np.isfinite(value)):
                raise ValueError(f"{name} holds nan or inf: a configuration needs finite values")

    @property
    def n_atoms(self) -> int:
        return len(self.symbols)

    @property
    def volume_angstrom3(self) -> float:
        return float(abs(np.linalg.det(self.cell_angstrom)))


def voigt_or_matrix_to_matrix(stress: Sequence[float] | np.ndarray) -> np.ndarray:
    """A 3x3 stress from a 3x3 matrix, 9 numbers or 6 Voigt numbers (xx, yy, zz, yz, xz, xy)."""
    array = np.asarray(stress, dtype=float)
    if array.size == 9:
        return array.reshape(3, 3)
    if array.size == 6:
        xx, yy, zz, yz, xz, xy = array
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    raise ValueError(f"stress must have 6 or 9 components, got {array.size}")


def frame_from_atoms(atoms) -> Frame:
    """A :class:`Frame` from an ``ase.Atoms`` object, taking labels from its calculator if present."""
    energy = forces = stress = None
    calc = atoms.calc
    if calc is not None:
        results = getattr(calc, "results", {})
        energy = results.get("energy", results.get("free_energy"))
        forces = results.get("forces")
        stress = results.get("stress")
    if energy is None:
        energy = atoms.info.get("energy")
    if forces is None and "forces" in atoms.arrays:
        forces = atoms.arrays["forces"]
    if stress is None:
        stress = atoms.info.get("stress")
    return Frame(
        symbols=tuple(atoms.get_chemical_symbols()),
        positions_angstrom=atoms.get_positions(),
        cell_angstrom=np.asarray(atoms.get_cell()),
        pbc=tuple(atoms.get_pbc()),
        energy_ev=energy,
        forces_ev_per_angstrom=forces,
        stress_ev_per_angstrom3=stress,
    )


def frame_to_atoms(frame: Frame):
    """An ``ase.Atoms`` with the labels attached through a ``SinglePointCalculator``."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(
        symbols=list(frame.symbols),
        positions=frame.positions_angstrom,
        cell=frame.cell_angstrom,
        pbc=frame.pbc,
    )
    labels = {}
    if frame.energy_ev is not None:
        labels["energy"] = frame.energy_ev
        labels["free_energy"] = frame.energy_ev
    if frame.forces_ev_per_angstrom is not None:
        labels["forces"] = frame.forces_ev_per_angstrom
    if frame.stress_ev_per_angstrom3 is not None:
        s = frame.stress_ev_per_angstrom3
        labels["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    if labels:
        atoms.calc = SinglePointCalculator(atoms, **labels)
    return atoms


def read_frames(path: str | pathlib.Path, index: str = ":") -> list[Frame]:
    """Read labelled frames from an extxyz (or any ASE-readable) file."""
    import ase.io

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"configuration file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"configuration file {path} is empty")
    try:
        images = ase.io.read(path, index=index)
    except Exception as exc:  # noqa: BLE001 - ASE raises many kinds for a file it cannot parse
        raise ValueError(f"cannot read configurations from {path}: {exc}") from exc
    if not isinstance(images, list):
        images = [images]
    if not images:
        raise ValueError(f"configuration file {path} holds no configuration")
    frames = []
    for number, atoms in enumerate(images, start=1):
        try:
            frames.append(frame_from_atoms(atoms))
        except ValueError as exc:
            raise ValueError(f"{path}, configuration {number}: {exc}") from exc
    return frames


def write_frames(path: str | pathlib.Path, frames: Iterable[Frame], extra_info=None) -> None:
    """Write frames (with their labels) to an extxyz file.

    ``extra_info`` is an optional list of dicts, one per frame, stored in ``atoms.info``.
    """
    import ase.io

    images = [frame_to_atoms(frame) for frame in frames]
    if extra_info is not None:
        for atoms, info in zip(images, extra_info, strict=True):
            atoms.info.update(info)
    ase.io.write(pathlib.Path(path), images, format="extxyz")
