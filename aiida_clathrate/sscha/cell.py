"""One SSCHA cell update towards a target pressure (no AiiDA import).

After a minimisation, the quantum (SSCHA) stress of the ensemble, which includes the zero-point
kinetic term, is compared with the target pressure; the cell takes one steepest-descent step
whose size comes from a guess of the bulk modulus (python-sscha's ``UC_OPTIMIZER``, as its
``Relax.vc_relax`` does once per population), and the dynamical matrix is carried to the new
cell with ``Phonons.AdjustToNewCell`` (force constants kept, positions scaled). The cell is
converged when every stress component differs from the target by less than its stochastic error.

Signs: ``stress_gpa`` here is the pressure-sign stress (positive = compression, as pw.x prints
it), so the pressure is its trace / 3.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from .. import units


@dataclass
class CellStep:
    """Outcome of one cell update: stress and pressure (GPa, positive = compression) with their
    errors, the cell before and after (Å, rows are lattice vectors), and whether the stress
    matched the target within its error (then the cell is left unchanged)."""

    stress_gpa: np.ndarray
    stress_error_gpa: np.ndarray
    pressure_gpa: float
    pressure_error_gpa: float
    target_pressure_gpa: float
    cell_before_angstrom: np.ndarray
    cell_after_angstrom: np.ndarray
    converged: bool

    def summary(self) -> dict:
        """JSON-friendly record."""
        return {
            "stress_gpa": self.stress_gpa.tolist(),
            "stress_error_gpa": self.stress_error_gpa.tolist(),
            "pressure_gpa": self.pressure_gpa,
            "pressure_error_gpa": self.pressure_error_gpa,
            "target_pressure_gpa": self.target_pressure_gpa,
            "cell_before_angstrom": self.cell_before_angstrom.tolist(),
            "cell_after_angstrom": self.cell_after_angstrom.tolist(),
            "volume_change_percent": float(
                100.0
                * (
                    abs(np.linalg.det(self.cell_after_angstrom))
                    / abs(np.linalg.det(self.cell_before_angstrom))
                    - 1.0
                )
            ),
            "cell_converged": self.converged,
        }


def _sscha_to_gpa(stress_ry_per_bohr3) -> np.ndarray:
    """python-sscha stress (Ry/bohr³, compression positive) -> GPa with the same sign."""
    return -units.stress_ev_per_angstrom3_to_gpa(units.stress_sscha_to_ase(stress_ry_per_bohr3))


def pressure_error_gpa(stress_error_gpa: np.ndarray) -> float:
    """Error of trace/3 from the diagonal errors (symmetry-equal components counted once, as
    python-sscha does)."""
    distinct = []
    for value in np.diag(stress_error_gpa):
        if not any(np.isclose(value, seen, rtol=1e-10, atol=0.0) for seen in distinct):
            distinct.append(float(value))
    return float(np.sqrt(np.sum(np.square(distinct))))


def cell_step(
    ensemble,
    phonons,
    target_pressure_gpa: float,
    bulk_modulus_gpa: float = 100.0,
    fix_volume: bool = False,
) -> CellStep:
    """Move the cell of ``phonons`` (in place) one step towards ``target_pressure_gpa``.

    ``ensemble`` is the minimised python-sscha ensemble (its weights are the current ones) and
    must carry stresses. ``bulk_modulus_gpa`` sets the step: a cubic cell off by ΔP changes its
    volume by about ΔP / B. ``fix_volume`` relaxes the shape only.
    """
    import sscha.Optimizer

    if bulk_modulus_gpa <= 0:
        raise ValueError(f"bulk_modulus_gpa must be positive, got {bulk_modulus_gpa}")
    if not getattr(ensemble, "has_stress", False):
        raise ValueError("the ensemble has no stresses: the force engine must compute them")
    with contextlib.redirect_stdout(io.StringIO()):
        stress_ry, error_ry = ensemble.get_stress_tensor()
    stress_gpa = _sscha_to_gpa(stress_ry)
    error_gpa = np.abs(_sscha_to_gpa(error_ry))
    pressure = float(np.trace(stress_gpa) / 3.0)
    identity = np.eye(3)
    gradient_gpa = stress_gpa - target_pressure_gpa * identity
    before = np.array(phonons.structure.unit_cell, dtype=float)
    mask = error_gpa > 0
    converged = bool(np.all(np.abs(gradient_gpa[mask]) <= error_gpa[mask]))
    after = before.copy()
    if not converged:
        volume = abs(np.linalg.det(before))
        bulk_modulus_ev_per_angstrom3 = units.stress_gpa_to_ev_per_angstrom3(bulk_modulus_gpa)
        optimizer = sscha.Optimizer.UC_OPTIMIZER(before)
        optimizer.alpha = 1.0 / (3.0 * float(bulk_modulus_ev_per_angstrom3) * volume)
        optimizer.algorithm = "sd"
        gradient_ev_per_angstrom3 = units.stress_gpa_to_ev_per_angstrom3(gradient_gpa)
        with contextlib.redirect_stdout(io.StringIO()):
            optimizer.UpdateCell(after, gradient_ev_per_angstrom3, fix_volume)
            phonons.AdjustToNewCell(after)
    return CellStep(
        stress_gpa=stress_gpa,
        stress_error_gpa=error_gpa,
        pressure_gpa=pressure,
        pressure_error_gpa=pressure_error_gpa(error_gpa),
        target_pressure_gpa=float(target_pressure_gpa),
        cell_before_angstrom=before,
        cell_after_angstrom=np.array(phonons.structure.unit_cell, dtype=float),
        converged=converged,
    )


def secant_bulk_modulus_gpa(
    volumes_angstrom3: list[float],
    pressures_gpa: list[float],
    pressure_errors_gpa: list[float],
    bounds_gpa: tuple[float, float] = (20.0, 2000.0),
) -> float | None:
    """B = −V ΔP/ΔV from the last two populations' (volume, pressure), or ``None`` when the
    pressure change is within twice its stochastic error or B comes out negative; clipped to
    ``bounds_gpa``. Replaces the initial guess so that the steepest-descent cell steps neither
    crawl (guess too stiff) nor overshoot and oscillate (guess too soft)."""
    if len(volumes_angstrom3) < 2:
        return None
    v1, v2 = volumes_angstrom3[-2:]
    p1, p2 = pressures_gpa[-2:]
    e1, e2 = pressure_errors_gpa[-2:]
    if v1 == v2 or abs(p2 - p1) <= 2.0 * float(np.hypot(e1, e2)):
        return None
    modulus = -0.5 * (v1 + v2) * (p2 - p1) / (v2 - v1)
    if modulus <= 0:
        return None
    return float(np.clip(modulus, *bounds_gpa))
