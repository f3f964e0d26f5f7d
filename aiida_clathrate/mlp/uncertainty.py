"""Committee force spread per configuration, and the reference it is compared with.

The spread of a configuration is the largest standard deviation, over the committee members, of
any Cartesian force component (eV/Å). A committee's *reference* is the distribution of that spread
over the configurations it was trained on; the active SSCHA engine sends to DFT the
configurations whose spread exceeds ``factor`` times the reference's median. The median, not a
high percentile: active learning adds to the training set exactly the configurations on which
the committee disagrees most, which would inflate a percentile of a small set. The spread
grows with the number of atoms (a maximum over them), so the reference must come from
configurations of the size being evaluated, as the active engine's training sets do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .frames import Frame

if TYPE_CHECKING:  # torch is imported only where a committee is used
    from .potential import CommitteePotential

__all__ = (
    "DEFAULT_SPREAD_THRESHOLD_FACTOR",
    "REFERENCE_KEY",
    "max_force_spread_ev_per_angstrom",
    "reference_from_spreads",
    "spread_reference",
    "spread_threshold_ev_per_angstrom",
)

#: Percentile of the training configurations' spreads reported besides the median and maximum.
REFERENCE_PERCENTILE = 95
#: The reference statistic that the threshold factor multiplies.
REFERENCE_KEY = "median_ev_per_angstrom"
#: Threshold = factor x the median. On the KRbB6C6 benchmark (docs/mlp.md) 3.0 sent 7 % of new
#: frames drawn like the training ones to DFT, and every frame with twice the displacements or
#: another lattice parameter.
DEFAULT_SPREAD_THRESHOLD_FACTOR = 3.0
#: At most this many configurations (a seeded draw) enter :func:`spread_reference`.
MAX_REFERENCE_CONFIGURATIONS = 200


def max_force_spread_ev_per_angstrom(committee: CommitteePotential, frame: Frame) -> float:
    """Largest committee standard deviation of any force component of ``frame`` (eV/Å)."""
    if len(committee.members) < 2:
        raise ValueError("a force spread needs a committee of at least two members")
    prediction = committee.predict_frame(frame, member_forces=True)
    return float(np.max(prediction.forces_std_ev_per_angstrom))


def spread_reference(
    committee: CommitteePotential,
    frames: Sequence[Frame],
    max_configurations: int = MAX_REFERENCE_CONFIGURATIONS,
    seed: int = 0,
) -> dict:
    """The reference of ``committee`` on ``frames`` (at most ``max_configurations`` of them, drawn
    with ``seed``), for a model file that has none. Training computes it from the member forces
    it already has (:func:`reference_from_spreads`)."""
    frames = list(frames)
    if not frames:
        raise ValueError("no configurations to compute a spread reference from")
    if len(frames) > max_configurations:
        chosen = np.random.default_rng(seed).choice(len(frames), max_configurations, replace=False)
        frames = [frames[i] for i in sorted(chosen)]
    spreads = [max_force_spread_ev_per_angstrom(committee, f) for f in frames]
    return reference_from_spreads(spreads, max(f.n_atoms for f in frames))


def reference_from_spreads(spreads_ev_per_angstrom: Sequence[float], n_atoms_max: int) -> dict:
    """Median, ``REFERENCE_PERCENTILE``-th percentile and maximum of per-configuration spreads."""
    spreads = np.asarray(spreads_ev_per_angstrom, dtype=float)
    if not spreads.size:
        raise ValueError("no configurations to compute a spread reference from")
    return {
        "statistic": "largest committee standard deviation of a force component (eV/Å)",
        "n_configurations": int(spreads.size),
        "n_atoms_max": int(n_atoms_max),
        "median_ev_per_angstrom": float(np.median(spreads)),
        f"p{REFERENCE_PERCENTILE}_ev_per_angstrom": float(
            np.percentile(spreads, REFERENCE_PERCENTILE)
        ),
        "max_ev_per_angstrom": float(spreads.max()),
    }


def spread_threshold_ev_per_angstrom(reference: dict | None, factor: float) -> float:
    """``factor`` times the reference's median spread."""
    if factor <= 0:
        raise ValueError(f"the spread threshold factor must be positive, got {factor}")
    if not reference or REFERENCE_KEY not in reference:
        raise ValueError(
            "the model has no committee spread reference (trained by an older aiida-clathrate or "
            "with one member): retrain it or give an absolute threshold"
        )
    return factor * float(reference[REFERENCE_KEY])
