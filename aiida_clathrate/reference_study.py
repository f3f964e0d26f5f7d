"""The reference study's headline numbers, in one place (Zhao et al., arXiv:2501.12068; no AiiDA).

Compounds are matched on their guest metals regardless of order (``("K", "Rb")`` is
``("Rb", "K")``; ``("Sr",)`` is SrB3C3), so a study that wrote RbKB6C6 still meets KRbB6C6.

* :data:`HEADLINE_TC`: isotropic Eliashberg Tc (K), harmonic and anharmonic (``None``: the
  compound is harmonically unstable there);
* :data:`SYNTHESIS_PRESSURE_GPA`: the synthesis pressure at :data:`SYNTHESIS_TEMPERATURE_K`;
* :data:`LOW_FREQUENCY_LAMBDA_SHARE`: the share of lambda from modes below
  :data:`LOW_FREQUENCY_CUTOFF_CM1`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SYNTHESIS_TEMPERATURE_K = 4000.0
LOW_FREQUENCY_CUTOFF_CM1 = 200.0


@dataclass(frozen=True)
class HeadlineTc:
    """One row of the study's headline table."""

    formula: str
    metals: tuple[str, ...]
    pressure_gpa: float
    tc_harmonic_kelvin: float | None
    tc_anharmonic_kelvin: float | None


HEADLINE_TC: tuple[HeadlineTc, ...] = (
    HeadlineTc("SrB3C3", ("Sr",), 0.0, 19.0, 25.0),
    HeadlineTc("RbB3C3", ("Rb",), 15.0, 93.0, 98.0),
    HeadlineTc("KPbB6C6", ("K", "Pb"), 0.0, 88.0, 77.0),
    HeadlineTc("KRbB6C6", ("K", "Rb"), 0.0, None, 87.0),
)

#: formula -> (metals, synthesis pressure in GPa at 4000 K)
SYNTHESIS_PRESSURE_GPA: dict[str, tuple[tuple[str, ...], float]] = {
    "KRbB6C6": (("K", "Rb"), 20.0),
    "RbB3C3": (("Rb",), 30.0),
    "KPbB6C6": (("K", "Pb"), 50.0),
}

#: formula -> (metals, share of lambda below 200 cm^-1, a fraction)
LOW_FREQUENCY_LAMBDA_SHARE: dict[str, tuple[tuple[str, ...], float]] = {
    "SrNaB6C6": (("Sr", "Na"), 0.19),
    "CaRbB6C6": (("Ca", "Rb"), 0.25),
}


def pair_key(metals: Sequence[str]) -> frozenset[str]:
    """The order-free key of a guest pair: ``["K", "Rb"]`` and ``["Rb", "K"]`` give one key;
    ``["Sr"]`` and ``["Sr", "Sr"]`` give ``{"Sr"}``."""
    if not 1 <= len(metals) <= 2:
        raise ValueError(f"a pair is [X] or [X, Y], got {list(metals)!r}")
    return frozenset(metals)


def headline_tc(metals: Sequence[str], pressure_gpa: float) -> HeadlineTc | None:
    """The study's headline Tc of this pair at this pressure, or ``None`` if it has none."""
    key = pair_key(metals)
    for row in HEADLINE_TC:
        if pair_key(row.metals) == key and abs(row.pressure_gpa - pressure_gpa) < 1e-6:
            return row
    return None


def synthesis_pressure_gpa(metals: Sequence[str]) -> float | None:
    """The study's synthesis pressure (GPa) at 4000 K of this pair, or ``None``."""
    key = pair_key(metals)
    for pair, pressure in SYNTHESIS_PRESSURE_GPA.values():
        if pair_key(pair) == key:
            return pressure
    return None
