"""Phonon helpers with no AiiDA import: band paths, unit conversion and the stability verdict."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .units import THZ_TO_CM1 as THZ_TO_CM1  # re-exported: callers import it from here

#: The path the study plots for the simple-cubic clathrates (ASE notation, ``,`` = jump).
CUBIC_PATH = "GXMGRX,MR"


@dataclass(frozen=True)
class StabilityVerdict:
    """Lowest phonon frequency (cm^-1, negative = imaginary) and whether it is above ``-tolerance``."""

    min_frequency_cm1: float
    dynamically_stable: bool
    tolerance_cm1: float


def band_path(atoms: Atoms, npoints: int = 120) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """q-points along the standard path of the lattice, fractional (reciprocal-lattice) coordinates.

    Returns the points and ``(index, label)`` pairs for the high-symmetry points (``G`` -> ``GAMMA``).
    For a simple-cubic cell this is Γ–X–M–Γ–R–X|M–R, the study's layout.
    """
    if npoints < 2:
        raise ValueError(f"npoints must be at least 2, got {npoints}")
    lattice = atoms.cell.get_bravais_lattice()
    path = CUBIC_PATH if lattice.name == "CUB" else None
    bandpath = atoms.cell.bandpath(path, npoints=npoints)
    kpts = np.asarray(bandpath.kpts)
    labels: list[tuple[int, str]] = []
    start = 0
    for segment in bandpath.path.split(","):
        for name in _split_labels(segment):
            point = bandpath.special_points[name]
            matches = np.flatnonzero(np.linalg.norm(kpts[start:] - point, axis=1) < 1e-8)
            index = start + int(matches[0])
            labels.append((index, "GAMMA" if name == "G" else name))
            start = index + 1
    return kpts, labels


def _split_labels(segment: str) -> list[str]:
    """'GXM1' -> ['G', 'X', 'M1']: ASE labels are a capital letter and optional digits."""
    names: list[str] = []
    for char in segment:
        if char.isdigit() and names:
            names[-1] += char
        else:
            names.append(char)
    return names


def stability_verdict(
    qpoints_frac: np.ndarray,
    frequencies_cm1: np.ndarray,
    tolerance_cm1: float = 10.0,
    gamma_radius: float = 1e-3,
) -> StabilityVerdict:
    """Lowest frequency over all q and branches, the three acoustic modes at Γ excluded.

    :param qpoints_frac: (nq, 3) fractional q-points.
    :param frequencies_cm1: (nq, nbranches) frequencies; imaginary ones negative, as matdyn writes them.
    :param tolerance_cm1: imaginary modes shallower than this count as numerical noise.
    :param gamma_radius: q-points with a fractional norm below this are treated as Γ.
    """
    frequencies = np.sort(np.asarray(frequencies_cm1, dtype=float), axis=1)
    qpoints = np.asarray(qpoints_frac, dtype=float).reshape(len(frequencies), 3)
    if frequencies.size == 0 or not np.all(np.isfinite(frequencies)):
        raise ValueError("phonon frequencies are empty or not finite")
    if tolerance_cm1 < 0:
        raise ValueError(f"tolerance_cm1 must be non-negative, got {tolerance_cm1}")
    at_gamma = np.linalg.norm(qpoints - np.round(qpoints), axis=1) < gamma_radius
    candidates = [
        row[3:] if gamma else row for row, gamma in zip(frequencies, at_gamma, strict=True)
    ]
    lowest = min(float(row.min()) for row in candidates if row.size)
    return StabilityVerdict(lowest, bool(lowest > -tolerance_cm1), float(tolerance_cm1))


def pdos_by_element(
    text: str, site_elements: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frequencies (cm^-1) and the phonon DOS summed per element from matdyn.x's ``phonon_dos.dat``
    (columns: frequency, total DOS, then one projected DOS per atom in the structure's site
    order; ``#`` lines are comments). Elements keep their first-site order."""
    table = np.loadtxt(text.splitlines(), comments="#", ndmin=2)
    if table.shape[1] != 2 + len(site_elements):
        raise ValueError(
            f"phonon DOS has {table.shape[1]} columns; expected 2 + {len(site_elements)} sites"
        )
    curves: dict[str, np.ndarray] = {}
    for index, element in enumerate(site_elements):
        column = table[:, 2 + index]
        curves[element] = curves[element] + column if element in curves else column.copy()
    return table[:, 0], curves
