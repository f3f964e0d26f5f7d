"""Model spectra alpha^2F(omega) in meV for validation, benchmarks and examples."""

from __future__ import annotations

import numpy as np

from ..units import CM1_TO_MEV
from .spectrum import spectral_moments


def gaussian_bands(omega_mev: np.ndarray, centres_mev, widths_mev, lambdas) -> np.ndarray:
    """Sum of Gaussian bands, each scaled so that it contributes the given lambda."""
    omega = np.asarray(omega_mev, dtype=float)
    total = np.zeros_like(omega)
    for centre, width, lam in zip(centres_mev, widths_mev, lambdas, strict=True):
        band = np.exp(-0.5 * ((omega - centre) / width) ** 2)
        band[band < 1e-300] = 0.0
        total += band * (lam / spectral_moments(omega, band).lambda_)
    return total


def einstein_spectrum(
    omega_e_mev: float, lambda_: float, relative_width: float = 0.01, points: int = 201
) -> tuple[np.ndarray, np.ndarray]:
    """A narrow Gaussian at omega_E (width relative_width*omega_E, +-5 widths) with coupling lambda."""
    width = relative_width * omega_e_mev
    omega = np.linspace(omega_e_mev - 5 * width, omega_e_mev + 5 * width, points)
    return omega, gaussian_bands(omega, [omega_e_mev], [width], [lambda_])


def clathrate_like_spectrum(points: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """Two bands as in the B-C clathrates: guest/rattling modes below 200 cm^-1 and the B-C
    framework (square-face E_g/E_u stretching) modes at 600-1000 cm^-1; lambda = 1.75."""
    omega = np.linspace(0.5, 1100.0, points) * CM1_TO_MEV
    centres = np.array([70.0, 150.0, 720.0, 880.0]) * CM1_TO_MEV
    widths = np.array([20.0, 25.0, 50.0, 45.0]) * CM1_TO_MEV
    lambdas = [0.35, 0.45, 0.55, 0.40]
    a2f = gaussian_bands(omega, centres, widths, lambdas)
    # acoustic-like onset: alpha^2F ~ omega^2 below ~20 cm^-1, then renormalise to lambda = 1.75
    onset = (20.0 * CM1_TO_MEV) ** 2
    a2f *= omega**2 / (omega**2 + onset)
    a2f *= sum(lambdas) / spectral_moments(omega, a2f).lambda_
    return omega, a2f


def low_tc_spectrum(points: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """A weak-coupling spectrum (lambda = 0.50, bands at 20 and 45 meV): Tc about 5 K at mu* = 0.1,
    with about 220 positive Matsubara frequencies at Tc (omega_c = 600 meV)."""
    omega = np.linspace(0.25, 60.0, points)
    return omega, gaussian_bands(omega, [20.0, 45.0], [4.0, 4.0], [0.27, 0.23])
