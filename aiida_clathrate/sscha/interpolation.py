"""Anharmonic matrices on the fine harmonic q-grid (no AiiDA import).

The study runs the SSCHA in a small supercell (a coarse q-grid, e.g. 2x2x2) and computes the
harmonic phonons by DFPT on a fine grid (6x6x6). The anharmonic − harmonic difference on the
coarse grid is short-ranged; it is Fourier-interpolated to the fine grid and added to the fine
harmonic matrices (cellconstructor ``Phonons.Interpolate`` with both as support matrices).
At q-points of the coarse grid the result equals the anharmonic matrix.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from ..units import frequency_ry_to_cm1


def _grid(phonons) -> tuple[int, int, int]:
    return tuple(int(n) for n in phonons.GetSupercell())


def _on_cell(phonons, cell_angstrom: np.ndarray):
    """A copy of ``phonons`` carried to ``cell_angstrom`` (force constants unchanged)."""
    copy = phonons.Copy()
    if not np.allclose(copy.structure.unit_cell, cell_angstrom, atol=1e-8):
        with contextlib.redirect_stdout(io.StringIO()):
            copy.AdjustToNewCell(np.array(cell_angstrom, dtype=float))
    return copy


def add_anharmonic_correction(harmonic_fine, harmonic_coarse, anharmonic_coarse):
    """``harmonic_fine`` + (``anharmonic_coarse`` − ``harmonic_coarse``) interpolated to the fine
    grid, on the anharmonic matrix's cell (the SSCHA may have relaxed it).

    ``harmonic_coarse`` must be the harmonic matrix the SSCHA started from, on the same grid as
    ``anharmonic_coarse``; each fine-grid dimension must be a multiple of the coarse one, so the
    coarse q-points lie on the fine grid.
    """
    coarse, fine = _grid(anharmonic_coarse), _grid(harmonic_fine)
    if _grid(harmonic_coarse) != coarse:
        raise ValueError(
            f"harmonic coarse grid {_grid(harmonic_coarse)} differs from the anharmonic {coarse}"
        )
    n_atoms = {m.structure.N_atoms for m in (harmonic_fine, harmonic_coarse, anharmonic_coarse)}
    if len(n_atoms) != 1:
        raise ValueError(f"the matrices describe different unit cells (atoms: {sorted(n_atoms)})")
    if any(f % c for f, c in zip(fine, coarse, strict=True)):
        raise ValueError(f"fine grid {fine} is not a multiple of the coarse grid {coarse}")
    cell = np.array(anharmonic_coarse.structure.unit_cell, dtype=float)
    support_coarse = _on_cell(harmonic_coarse, cell)
    support_fine = _on_cell(harmonic_fine, cell)
    with contextlib.redirect_stdout(io.StringIO()):
        return anharmonic_coarse.Interpolate(
            coarse,
            fine,
            support_dyn_coarse=support_coarse,
            support_dyn_fine=support_fine,
        )


def frequencies_per_qpoint_cm1(phonons) -> tuple[np.ndarray, np.ndarray]:
    """Crystal coordinates of every q-point of the grid (nq, 3) and its frequencies (nq, 3N) in
    cm⁻¹ (ascending, negative = imaginary), acoustic modes at Γ included."""
    cell = np.array(phonons.structure.unit_cell, dtype=float)
    qpoints = np.array(phonons.q_tot, dtype=float) @ cell.T
    frequencies = []
    for iq in range(len(phonons.q_tot)):
        with contextlib.redirect_stdout(io.StringIO()):
            w_ry, _ = phonons.DyagDinQ(iq)
        frequencies.append(np.sort(frequency_ry_to_cm1(w_ry)))
    return qpoints, np.array(frequencies)


def lowest_frequency_per_qpoint_cm1(
    qpoints_crystal: np.ndarray, frequencies_cm1: np.ndarray
) -> np.ndarray:
    """Lowest frequency at each q-point (cm⁻¹, negative = imaginary), the three acoustic modes at
    Γ left out (NaN at a Γ with no other mode)."""
    lowest = []
    for q, w in zip(np.asarray(qpoints_crystal), np.asarray(frequencies_cm1), strict=True):
        at_gamma = np.allclose(q - np.round(q), 0.0, atol=1e-8)
        kept = np.sort(w)[3:] if at_gamma else np.asarray(w)
        lowest.append(float(np.min(kept)) if kept.size else np.nan)
    return np.array(lowest, dtype=float)


def lowest_frequency_cm1(qpoints_crystal: np.ndarray, frequencies_cm1: np.ndarray) -> float:
    """Lowest frequency over the grid without the three acoustic modes at Γ."""
    lowest = lowest_frequency_per_qpoint_cm1(qpoints_crystal, frequencies_cm1)
    if np.all(np.isnan(lowest)):
        raise ValueError("no frequencies besides the acoustic modes at Gamma")
    return float(np.nanmin(lowest))
