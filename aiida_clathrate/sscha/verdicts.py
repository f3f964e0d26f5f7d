"""Stability verdicts of an SSCHA run, in the study's categories (no AiiDA import)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STABLE = "stable"
AUXILIARY_STABLE_HESSIAN_IMAGINARY = "auxiliary_stable_hessian_imaginary"
FLAT_SOFT_MODE = "flat_soft_mode"
UNSTABLE = "unstable"


@dataclass(frozen=True)
class Verdict:
    category: str
    lowest_auxiliary_cm1: float
    lowest_hessian_cm1: float | None
    message: str


def flat_soft_mode(
    lowest_frequencies_cm1: np.ndarray,
    sizes: np.ndarray,
    soft_threshold_cm1: float = 20.0,
    min_populations: int = 2,
) -> bool:
    """True when the lowest (non-translational) frequency is below ``soft_threshold_cm1`` in
    each of the last ``min_populations`` populations while the population size did not shrink:
    an optical mode that fell to about zero and stays there as the ensemble grows."""
    lowest = np.asarray(lowest_frequencies_cm1, dtype=float)
    sizes = np.asarray(sizes)
    if lowest.shape != sizes.shape:
        raise ValueError(f"{lowest.shape} lowest frequencies but {sizes.shape} population sizes")
    if len(lowest) < min_populations:
        return False
    tail, tail_sizes = lowest[-min_populations:], sizes[-min_populations:]
    return bool(np.all(np.abs(tail) < soft_threshold_cm1) and np.all(np.diff(tail_sizes) >= 0))


def stability_verdict(
    auxiliary_frequencies_cm1: np.ndarray,
    hessian_frequencies_cm1: np.ndarray | None,
    lowest_per_population_cm1: np.ndarray | None = None,
    population_sizes: np.ndarray | None = None,
    tolerance_cm1: float = 10.0,
    soft_threshold_cm1: float = 20.0,
) -> Verdict:
    """One of ``stable`` (Hessian phonons real), ``auxiliary_stable_hessian_imaginary``,
    ``flat_soft_mode`` (checked first, from the per-population lowest frequencies) or
    ``unstable`` (the auxiliary matrix itself has imaginary modes). Modes shallower than
    ``tolerance_cm1`` count as real."""
    auxiliary = float(np.min(auxiliary_frequencies_cm1))
    hessian = None if hessian_frequencies_cm1 is None else float(np.min(hessian_frequencies_cm1))
    if lowest_per_population_cm1 is not None and population_sizes is not None:
        if flat_soft_mode(lowest_per_population_cm1, population_sizes, soft_threshold_cm1):
            return Verdict(
                FLAT_SOFT_MODE,
                auxiliary,
                hessian,
                f"lowest frequency below {soft_threshold_cm1} cm^-1 in the last populations",
            )
    if auxiliary < -tolerance_cm1:
        return Verdict(UNSTABLE, auxiliary, hessian, "the auxiliary SSCHA matrix is imaginary")
    if hessian is None:
        raise ValueError("the Hessian frequencies are needed when the auxiliary matrix is stable")
    if hessian < -tolerance_cm1:
        return Verdict(
            AUXILIARY_STABLE_HESSIAN_IMAGINARY,
            auxiliary,
            hessian,
            f"auxiliary matrix real, Hessian lowest {hessian:.1f} cm^-1",
        )
    return Verdict(STABLE, auxiliary, hessian, f"Hessian phonons real (lowest {hessian:.1f} cm^-1)")
