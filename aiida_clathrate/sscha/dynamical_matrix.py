"""Reading, writing and building cellconstructor ``Phonons`` (no AiiDA import).

A dynamical matrix on disk is the Quantum ESPRESSO layout python-sscha reads: ``{prefix}1`` ..
``{prefix}{nqirr}`` (one file per irreducible q-point), plus ``{prefix}0`` with the q-grid written
by ph.x or by ``Phonons.save_qe``.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
from dataclasses import dataclass

import numpy as np

from .. import units


def _phonons_module():
    import cellconstructor.Phonons

    return cellconstructor.Phonons


def dyn_file_names(prefix: str, nqirr: int, with_grid_file: bool = True) -> list[str]:
    """File names of a matrix set: ``prefix0`` (when asked) and ``prefix1..prefix{nqirr}``."""
    if nqirr < 1:
        raise ValueError(f"nqirr must be at least 1, got {nqirr}")
    first = 0 if with_grid_file else 1
    return [f"{prefix}{i}" for i in range(first, nqirr + 1)]


def load_phonons(directory: str | pathlib.Path, prefix: str = "dyn", nqirr: int = 1):
    """Load ``cellconstructor.Phonons.Phonons`` from ``directory/{prefix}1..{prefix}{nqirr}``."""
    directory = pathlib.Path(directory)
    missing = [
        name for name in dyn_file_names(prefix, nqirr, False) if not (directory / name).is_file()
    ]
    if missing:
        raise ValueError(f"dynamical-matrix files missing in {directory}: {missing}")
    with contextlib.redirect_stdout(io.StringIO()):
        return _phonons_module().Phonons(str(directory / prefix), nqirr=nqirr)


def save_phonons(phonons, directory: str | pathlib.Path, prefix: str = "dyn") -> list[str]:
    """Write ``prefix0..prefix{nqirr}`` into ``directory``; return the file names written."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        phonons.save_qe(str(directory / prefix))
    (directory / f"{prefix}0").write_text(grid_file_text(phonons))
    names = dyn_file_names(prefix, phonons.nqirr, True)
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise RuntimeError(f"cellconstructor did not write {missing} in {directory}")
    return names


def grid_file_text(phonons) -> str:
    """ph.x-style ``dyn0``: the q-mesh, the number of irreducible q-points and one q per star.

    q-points are Cartesian in units of 2π/alat with alat the length of the first lattice vector
    (python-sscha does not read this file; the q-mesh line is what the FolderData convention uses).
    """
    mesh = [int(n) for n in phonons.GetSupercell()]
    alat = float(np.linalg.norm(phonons.structure.unit_cell[0]))
    lines = [" ".join(f"{n:4d}" for n in mesh), f"{len(phonons.q_stars):4d}"]
    for star in phonons.q_stars:
        q = np.asarray(star[0], dtype=float) * alat
        lines.append(" ".join(f"{v:24.15e}" for v in q))
    return "\n".join(lines) + "\n"


def read_grid_file(text: str) -> tuple[list[int], int]:
    """q-mesh and number of irreducible q-points from a ``dyn0`` text."""
    tokens = text.split()
    try:
        return [int(t) for t in tokens[:3]], int(tokens[3])
    except (IndexError, ValueError) as exc:
        raise ValueError(f"not a dyn0 q-grid file: {text[:80]!r}") from exc


def structure_from_atoms(atoms):
    """cellconstructor ``Structure`` from ASE atoms, masses converted from amu to Ry units."""
    import cellconstructor.Structure

    structure = cellconstructor.Structure.Structure()
    structure.generate_from_ase_atoms(atoms, get_masses=False)
    masses = {}
    for symbol, mass in zip(atoms.get_chemical_symbols(), atoms.get_masses(), strict=True):
        masses[symbol] = float(units.mass_amu_to_ry(mass))
    structure.set_masses(masses)
    return structure


def phonons_from_force_constants(atoms, force_constants_ev_per_angstrom2: np.ndarray):
    """Γ-only ``Phonons`` (1x1x1 supercell) from a (3N, 3N) force-constant matrix in eV/Å²."""
    fc = np.asarray(force_constants_ev_per_angstrom2, dtype=float)
    n = 3 * len(atoms)
    if fc.shape != (n, n):
        raise ValueError(f"force constants must have shape {(n, n)}, got {fc.shape}")
    if not np.allclose(fc, fc.T, atol=1e-10 * max(1.0, np.abs(fc).max())):
        raise ValueError("force constants must be a symmetric matrix")
    phonons = _phonons_module().Phonons(structure_from_atoms(atoms), nqirr=1)
    phonons.dynmats[0] = units.force_constant_ev_to_ry(fc).astype(np.complex128)
    return phonons


def supercell_atoms(phonons):
    """The ASE supercell on which the ensemble lives (reference, undisplaced positions)."""
    structure = phonons.structure.generate_supercell(phonons.GetSupercell())
    return structure.get_ase_atoms()


def supercell_frequencies_cm1(phonons, drop_translations: bool = True) -> np.ndarray:
    """Frequencies (cm⁻¹, ascending, negative = imaginary) of the supercell; translations dropped."""
    with contextlib.redirect_stdout(io.StringIO()):
        w_ry, pols = phonons.DiagonalizeSupercell()
    if drop_translations:
        super_structure = phonons.structure.generate_supercell(phonons.GetSupercell())
        translations = super_structure.get_asr_modes(pols)
        w_ry = w_ry[~translations]
    return np.sort(units.frequency_ry_to_cm1(np.real(w_ry)))


def symmetrize_phonons(phonons) -> None:
    """Impose the crystal symmetries and the acoustic sum rule on ``phonons`` in place."""
    import cellconstructor.symmetries

    symmetry = cellconstructor.symmetries.QE_Symmetry(phonons.structure)
    symmetry.SetupQPoint(verbose=False)
    fcq = np.array(phonons.dynmats, dtype=np.complex128)
    symmetry.SymmetrizeFCQ(fcq, phonons.q_stars, asr="custom")
    for iq in range(len(phonons.q_tot)):
        phonons.dynmats[iq] = fcq[iq, :, :]


#: Changes below this (Ry/bohr²) from symmetrisation are round-off.
SYMMETRIZATION_TOLERANCE_RY_PER_BOHR2 = 1e-8


@dataclass(frozen=True)
class PositiveDefiniteResult:
    """Outcome of :func:`force_positive_definite`."""

    phonons: object
    n_imaginary: int
    lowest_frequency_cm1_before: float
    changed: bool
    symmetrization_change_ry_per_bohr2: float = 0.0

    def message(self) -> str:
        parts = []
        if self.symmetrization_change_ry_per_bohr2 > SYMMETRIZATION_TOLERANCE_RY_PER_BOHR2:
            parts.append(
                "acoustic sum rule and crystal symmetries imposed on the starting matrix "
                f"(largest change {self.symmetrization_change_ry_per_bohr2:.2e} Ry/bohr^2)"
            )
        if self.n_imaginary:
            parts.append(
                f"ForcePositiveDefinite: {self.n_imaginary} imaginary frequencies (lowest "
                f"{self.lowest_frequency_cm1_before:.1f} cm^-1) made positive in the starting "
                "matrix"
            )
        return "; ".join(parts) or "starting dynamical matrix has no imaginary frequency"


def force_positive_definite(phonons, tolerance_cm1: float = 1e-3) -> PositiveDefiniteResult:
    """A copy with the acoustic sum rule and symmetries imposed (ph.x leaves the ASR to matdyn,
    and python-sscha refuses a matrix without three translations), then ``|ω²|`` in place of ω²
    (``ForcePositiveDefinite``) when any mode is imaginary.

    Translations at Γ are ignored. ``changed`` says whether the matrix was modified.
    """
    result = phonons.Copy()
    before = np.array(result.dynmats, dtype=np.complex128)
    with contextlib.redirect_stdout(io.StringIO()):
        symmetrize_phonons(result)
    change = float(np.max(np.abs(np.array(result.dynmats, dtype=np.complex128) - before)))
    frequencies = supercell_frequencies_cm1(result)
    imaginary = int(np.sum(frequencies < -abs(tolerance_cm1)))
    if imaginary:
        result.ForcePositiveDefinite()
    changed = bool(imaginary) or change > SYMMETRIZATION_TOLERANCE_RY_PER_BOHR2
    return PositiveDefiniteResult(result, imaginary, float(frequencies.min()), changed, change)
