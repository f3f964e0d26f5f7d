"""Tc from the linearized isotropic Eliashberg equation by a bracketing root search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..units import KB_MEV_PER_KELVIN
from .matsubara import MatsubaraSystem, PreparedSpectrum
from .settings import EliashbergSettings


@dataclass(frozen=True)
class TcResult:
    """Critical temperature of one mu*.

    ``tc_kelvin`` is 0 when the largest eigenvalue stays below 1 down to ``lowest_temperature_kelvin``.
    """

    tc_kelvin: float
    mustar: float
    mustar_at_cutoff: float
    cutoff_mev: float
    n_matsubara: int
    eigenvalue_evaluations: int
    lowest_temperature_kelvin: float

    @property
    def superconducting(self) -> bool:
        return self.tc_kelvin > 0.0


def lowest_temperature(settings: EliashbergSettings, cutoff_mev: float) -> float:
    """Lowest temperature treated: min_temperature_kelvin, raised so that N <= max_matsubara."""
    t_from_count = cutoff_mev / (np.pi * (2 * settings.max_matsubara - 1)) / KB_MEV_PER_KELVIN
    return max(settings.min_temperature_kelvin, t_from_count)


def linearized_eigenvalue(
    spectrum: PreparedSpectrum,
    temperature_kelvin: float,
    mustar_at_cutoff: float,
    cutoff_mev: float,
    min_matsubara: int = 32,
) -> float:
    """Largest eigenvalue of the linearized gap equation at one temperature."""
    system = MatsubaraSystem(
        spectrum, temperature_kelvin, mustar_at_cutoff, cutoff_mev, min_matsubara
    )
    return system.max_eigenvalue()


def solve_tc(
    omega_mev,
    a2f,
    mustar: float,
    settings: EliashbergSettings | None = None,
    spectrum: PreparedSpectrum | None = None,
) -> TcResult:
    """Tc in K where the largest eigenvalue of the linearized equation crosses 1.

    The bracket needs no guess of Tc: it starts at T = omega_max / k_B (raised by doubling while
    the eigenvalue still exceeds 1) and halves T until the eigenvalue exceeds 1, then Brent's
    method refines the root to ``|Tc - root|`` <= ``settings.tc_tolerance_kelvin`` +
    ``settings.tc_relative_tolerance`` * Tc.  omega_max (cutoff and bracket) is taken at
    ``settings.omega_max_threshold``.
    """
    settings = settings or EliashbergSettings()
    if spectrum is None:
        spectrum = PreparedSpectrum.from_arrays(omega_mev, a2f, settings.omega_max_threshold)
    spectrum = spectrum.with_omega_max_threshold(settings.omega_max_threshold)
    cutoff = settings.cutoff_mev(spectrum.omega_max_mev)
    mu_c = settings.effective_mustar(mustar, cutoff)
    t_floor = lowest_temperature(settings, cutoff)
    evaluations = 0

    def excess(temperature: float) -> float:
        nonlocal evaluations
        evaluations += 1
        return (
            linearized_eigenvalue(spectrum, temperature, mu_c, cutoff, settings.min_matsubara) - 1.0
        )

    t_high = spectrum.omega_max_mev / KB_MEV_PER_KELVIN
    f_high = excess(t_high)
    doublings = 0
    while f_high >= 0.0:
        doublings += 1
        if doublings > 30:
            raise RuntimeError("could not find a temperature above Tc (eigenvalue never below 1)")
        t_high *= 2.0
        f_high = excess(t_high)
    t_low = t_high
    f_low = f_high
    while f_low < 0.0:
        if t_low <= t_floor:
            return TcResult(0.0, float(mustar), mu_c, cutoff, 0, evaluations, t_floor)
        t_high, f_high = t_low, f_low
        t_low = max(t_low / 2.0, t_floor)
        f_low = excess(t_low)
    tc = optimize.brentq(
        excess,
        t_low,
        t_high,
        xtol=settings.tc_tolerance_kelvin,
        rtol=settings.tc_relative_tolerance,
    )
    system = MatsubaraSystem(spectrum, tc, mu_c, cutoff, settings.min_matsubara)
    return TcResult(float(tc), float(mustar), mu_c, cutoff, system.n, evaluations, t_floor)
