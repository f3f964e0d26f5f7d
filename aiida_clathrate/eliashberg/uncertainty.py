"""Tc with an uncertainty (no AiiDA): the mu* range, the broadening plateau, the SSCHA noise.

Three spreads around the central Tc (the chosen broadening, the middle mu*, the Hessian phonons):

* **mu\\***: half the range of Tc over the mu* values solved (the study's 0.10-0.15);
* **broadening**: half the range of Tc over the broadenings of the lambda plateau (the chosen one
  and the following ones whose lambda stays within the plateau tolerance of its neighbour;
  with no plateau, the chosen pair), at the middle mu*;
* **SSCHA**: the standard deviation of Tc over bootstrap resamples of the last population, each
  minimised again and turned into a Hessian (:func:`aiida_clathrate.sscha.hessian.bootstrap_hessian_frequencies`).
  Each sample's Hessian frequencies, against the central Hessian's, define a frequency map
  omega -> g(omega) (sorted modes paired in order, the ratio interpolated in omega); the
  anharmonic alpha^2F is mapped with lambda_qnu proportional to 1/omega_qnu^2 at fixed
  eigenvectors and linewidths (:func:`remap_alpha2f`), and Tc solved again. Samples with an
  imaginary mode below ``-tolerance_cm1`` are counted, not solved.

The total is the three added in quadrature; each is reported on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..units import CM1_TO_MEV
from .settings import EliashbergSettings
from .tc import solve_tc


@dataclass
class TcUncertainty:
    """Central Tc (K) at ``mustar`` and its spreads (K); ``sscha_kelvin`` is ``None`` without
    bootstrap samples."""

    mustar: float
    tc_kelvin: float
    mustar_kelvin: float
    broadening_kelvin: float
    sscha_kelvin: float | None
    total_kelvin: float
    plateau_broadening_indices: list[int] = field(default_factory=list)
    plateau_tc_kelvin: list[float] = field(default_factory=list)
    bootstrap_tc_kelvin: list[float] = field(default_factory=list)
    bootstrap_unstable: int = 0
    method: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


METHOD = (
    "Tc at the middle mu*, the chosen broadening and the Hessian phonons; spreads: mu* = half "
    "the Tc range over the mu* values; broadening = half the Tc range over the lambda-plateau "
    "broadenings; SSCHA = standard deviation over bootstrap resamples of the last population "
    "(each minimised again; alpha^2F mapped with each sample's Hessian frequencies, lambda "
    "~ 1/omega^2 at fixed linewidths); total = the three in quadrature"
)


def central_index(mustars: Sequence[float]) -> int:
    """Index of the middle mu* (the one nearest the median; the lower one for an even count)."""
    if not len(mustars):
        raise ValueError("no mu* values")
    values = np.asarray(mustars, dtype=float)
    order = np.argsort(values)
    return int(order[(len(values) - 1) // 2])


def neighbour_changes(lambdas: Sequence[float]) -> np.ndarray:
    """|lambda(i) - lambda(i+1)| / lambda(i+1) for each pair of neighbouring broadenings; ``inf``
    where either lambda is not positive. The plateau rule and the plateau read these."""
    values = np.asarray(lambdas, dtype=float)
    changes = np.full(max(values.size - 1, 0), np.inf)
    for i in range(values.size - 1):
        if values[i] > 0.0 and values[i + 1] > 0.0:
            changes[i] = abs(values[i] - values[i + 1]) / values[i + 1]
    return changes


def plateau_indices(lambdas: Sequence[float], chosen: int, tolerance: float) -> list[int]:
    """0-based broadenings of the plateau that starts at ``chosen``: ``chosen``, the next one
    (the pair the plateau rule compared) and each following one whose lambda differs from the
    previous one's by less than ``tolerance`` (relative)."""
    if not 0 <= chosen < len(lambdas):
        raise ValueError(f"chosen broadening {chosen} not in 0..{len(lambdas) - 1}")
    indices = [chosen]
    if chosen + 1 < len(lambdas):
        indices.append(chosen + 1)
    changes = neighbour_changes(lambdas)
    i = chosen + 1
    while i < changes.size and changes[i] < tolerance:
        indices.append(i + 1)
        i += 1
    return indices


def remap_alpha2f(
    omega_mev: np.ndarray,
    a2f: np.ndarray,
    reference_cm1: Sequence[float],
    sample_cm1: Sequence[float],
) -> np.ndarray:
    """alpha^2F on the same grid after moving every frequency omega to g(omega) = r(omega) omega.

    r is the ratio of the sorted ``sample_cm1`` to the sorted ``reference_cm1`` frequencies
    (positive pairs only), interpolated linearly in omega and constant beyond the ends. A mode
    moved from omega to g keeps its linewidth, so lambda scales by (omega/g)^2:
    alpha^2F'(g) = alpha^2F(omega) omega / (g dg/domega). A uniform ratio s gives lambda/s^2 and
    omega_log*s.
    """
    omega = np.asarray(omega_mev, dtype=float)
    values = np.asarray(a2f, dtype=float)
    reference = np.sort(np.asarray(reference_cm1, dtype=float))
    sample = np.sort(np.asarray(sample_cm1, dtype=float))
    if reference.shape != sample.shape:
        raise ValueError(f"{reference.size} reference against {sample.size} sample frequencies")
    keep = (reference > 0) & (sample > 0)
    if not np.any(keep):
        raise ValueError("no positive frequency pair to map")
    ratio = sample[keep] / reference[keep]
    mapped = omega * np.interp(omega, reference[keep] * CM1_TO_MEV, ratio)
    mapped = np.maximum.accumulate(mapped)
    slope = np.gradient(mapped, omega)
    positive = (omega > 0) & (mapped > 0) & (slope > 0)
    moved = np.zeros_like(values)
    moved[positive] = values[positive] * omega[positive] / (mapped[positive] * slope[positive])
    return np.interp(omega, mapped[positive], moved[positive], left=0.0, right=0.0)


def _half_range(values: Sequence[float]) -> float:
    return 0.5 * (max(values) - min(values)) if values else 0.0


def tc_uncertainty(
    tc_per_mustar_kelvin: Sequence[float],
    mustars: Sequence[float],
    plateau_spectra: Sequence[tuple[np.ndarray, np.ndarray]],
    chosen_spectrum: tuple[np.ndarray, np.ndarray],
    settings: EliashbergSettings | None = None,
    hessian_cm1: Sequence[float] | None = None,
    bootstrap_cm1: np.ndarray | None = None,
    tolerance_cm1: float = 10.0,
    plateau_broadening_indices: Sequence[int] = (),
) -> TcUncertainty:
    """Tc at the middle mu* with its mu*, broadening and SSCHA spreads (see the module).

    ``tc_per_mustar_kelvin``: the Eliashberg Tc per mu* of the chosen broadening (as the work
    chain reported it); ``plateau_spectra``: (omega in meV, alpha^2F) of every plateau
    broadening; ``chosen_spectrum``: the chosen one; ``hessian_cm1`` and ``bootstrap_cm1``
    (samples x modes): the central and bootstrap Hessian frequencies of the SSCHA.
    """
    if len(tc_per_mustar_kelvin) != len(mustars):
        raise ValueError(f"{len(tc_per_mustar_kelvin)} Tc values for {len(mustars)} mu* values")
    settings = settings or EliashbergSettings()
    middle = central_index(mustars)
    mustar = float(mustars[middle])
    plateau_tc = [float(solve_tc(w, f, mustar, settings).tc_kelvin) for w, f in plateau_spectra]
    bootstrap_tc: list[float] = []
    unstable = 0
    sscha = None
    if bootstrap_cm1 is not None and hessian_cm1 is not None:
        omega, a2f = chosen_spectrum
        for sample in np.atleast_2d(np.asarray(bootstrap_cm1, dtype=float)):
            if sample.min() < -abs(tolerance_cm1):
                unstable += 1
                continue
            mapped = remap_alpha2f(omega, a2f, hessian_cm1, sample)
            bootstrap_tc.append(float(solve_tc(omega, mapped, mustar, settings).tc_kelvin))
        if len(bootstrap_tc) >= 2:
            sscha = float(np.std(bootstrap_tc, ddof=1))
    mustar_spread = _half_range([float(t) for t in tc_per_mustar_kelvin])
    broadening_spread = _half_range(plateau_tc)
    total = math.sqrt(mustar_spread**2 + broadening_spread**2 + (sscha or 0.0) ** 2)
    return TcUncertainty(
        mustar=mustar,
        tc_kelvin=float(tc_per_mustar_kelvin[middle]),
        mustar_kelvin=mustar_spread,
        broadening_kelvin=broadening_spread,
        sscha_kelvin=sscha,
        total_kelvin=total,
        plateau_broadening_indices=[int(i) for i in plateau_broadening_indices],
        plateau_tc_kelvin=plateau_tc,
        bootstrap_tc_kelvin=bootstrap_tc,
        bootstrap_unstable=unstable,
        method=METHOD,
    )


def format_components(components: Mapping) -> str:
    """``at mu* 0.13: mu* 3.1, broadening 2.0, SSCHA 1.1 K`` from the spreads of
    :meth:`TcUncertainty.as_dict` (or the summary's ``tc_<branch>_uncertainty``)."""
    parts = [
        f"{name} {components[key]:.1f}"
        for name, key in (
            ("mu*", "mustar_kelvin"),
            ("broadening", "broadening_kelvin"),
            ("SSCHA", "sscha_kelvin"),
        )
        if components.get(key) is not None
    ]
    text = (", ".join(parts) + " K") if parts else "no spread"
    if components.get("mustar") is not None:
        text = f"at mu* {components['mustar']:.2f}: {text}"
    if components.get("bootstrap_unstable"):
        text += f"; {components['bootstrap_unstable']} bootstrap sample(s) with imaginary modes"
    return text


def format_tc_uncertainty(result: Mapping) -> str:
    """``Tc = 63.9 ± 4.2 K at mu* 0.13: mu* 3.1, broadening 2.0, SSCHA 1.1 K`` from ``as_dict``."""
    return f"Tc = {result['tc_kelvin']:.1f} ± {result['total_kelvin']:.1f} K " + format_components(
        result
    )
