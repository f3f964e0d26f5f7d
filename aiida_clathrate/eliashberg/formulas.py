"""Closed-form Tc estimates: McMillan (omega_log/1.2 prefactor) and Allen-Dynes with f1*f2."""

from __future__ import annotations

import numpy as np

from ..units import KB_MEV_PER_KELVIN
from .spectrum import validate_mustar


def _check(lambda_: float, omega_log_mev: float, mustar: float) -> float:
    if not (np.isfinite(lambda_) and lambda_ > 0.0):
        raise ValueError(f"lambda must be positive and finite, got {lambda_!r}")
    if not (np.isfinite(omega_log_mev) and omega_log_mev > 0.0):
        raise ValueError(f"omega_log must be positive and finite, got {omega_log_mev!r}")
    return validate_mustar(mustar)


def mcmillan_tc(lambda_: float, omega_log_mev: float, mustar: float) -> float:
    """McMillan Tc in K in the Allen-Dynes form: (omega_log/1.2) exp[-1.04(1+l)/(l - mu*(1+0.62 l))].

    Returns 0 when the denominator is not positive (mu* too large for this lambda).
    """
    mu = _check(lambda_, omega_log_mev, mustar)
    denominator = lambda_ - mu * (1.0 + 0.62 * lambda_)
    if denominator <= 0.0:
        return 0.0
    prefactor = omega_log_mev / KB_MEV_PER_KELVIN / 1.2
    return float(prefactor * np.exp(-1.04 * (1.0 + lambda_) / denominator))


def allen_dynes_factors(
    lambda_: float, omega_log_mev: float, omega_2_mev: float, mustar: float
) -> tuple[float, float]:
    """Allen-Dynes strong-coupling (f1) and shape (f2) correction factors."""
    mu = _check(lambda_, omega_log_mev, mustar)
    if not (np.isfinite(omega_2_mev) and omega_2_mev > 0.0):
        raise ValueError(f"omega_2 must be positive and finite, got {omega_2_mev!r}")
    lambda_1 = 2.46 * (1.0 + 3.8 * mu)
    ratio = omega_2_mev / omega_log_mev
    lambda_2 = 1.82 * (1.0 + 6.3 * mu) * ratio
    f1 = (1.0 + (lambda_ / lambda_1) ** 1.5) ** (1.0 / 3.0)
    f2 = 1.0 + (ratio - 1.0) * lambda_**2 / (lambda_**2 + lambda_2**2)
    return float(f1), float(f2)


def allen_dynes_tc(
    lambda_: float, omega_log_mev: float, omega_2_mev: float, mustar: float
) -> float:
    """Allen-Dynes Tc in K: f1 * f2 * McMillan(omega_log/1.2 form)."""
    f1, f2 = allen_dynes_factors(lambda_, omega_log_mev, omega_2_mev, mustar)
    return f1 * f2 * mcmillan_tc(lambda_, omega_log_mev, mustar)
