"""Validation, quadrature and moments of an Eliashberg spectral function alpha^2F(omega).

All frequencies are in meV.  Integrals use trapezoid weights on the given grid extended by the
point omega = 0 where alpha^2F is taken to vanish, so that ``lambda`` from :func:`spectral_moments`
is exactly the zero-frequency Matsubara kernel lambda(0) used by the solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mustar import check_mustar_value


@dataclass(frozen=True)
class SpectralMoments:
    """Coupling constant and characteristic frequencies of alpha^2F."""

    lambda_: float
    omega_log_mev: float
    omega_2_mev: float
    omega_max_mev: float

    def as_dict(self) -> dict[str, float]:
        return {
            "lambda": self.lambda_,
            "omega_log_mev": self.omega_log_mev,
            "omega_2_mev": self.omega_2_mev,
            "omega_max_mev": self.omega_max_mev,
        }


def validate_spectrum(omega_mev, a2f) -> tuple[np.ndarray, np.ndarray]:
    """Return (omega, a2f) as float arrays or raise ``ValueError`` naming the bad value.

    Requires 1-D arrays of equal length (at least 2 points), finite values, strictly increasing
    positive frequencies, non-negative alpha^2F and a non-zero coupling constant.
    """
    omega = np.asarray(omega_mev, dtype=float)
    values = np.asarray(a2f, dtype=float)
    if omega.ndim != 1 or values.ndim != 1:
        raise ValueError(
            f"omega and alpha^2F must be 1-D, got shapes {omega.shape} and {values.shape}"
        )
    if omega.size != values.size:
        raise ValueError(f"omega has {omega.size} points but alpha^2F has {values.size}")
    if omega.size < 2:
        raise ValueError(f"alpha^2F needs at least 2 frequency points, got {omega.size}")
    bad = np.flatnonzero(~np.isfinite(omega))
    if bad.size:
        raise ValueError(f"non-finite frequency omega[{bad[0]}] = {omega[bad[0]]}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"non-finite alpha^2F[{bad[0]}] = {values[bad[0]]}")
    if omega[0] <= 0.0:
        raise ValueError(f"frequencies must be positive, got omega[0] = {omega[0]}")
    steps = np.diff(omega)
    bad = np.flatnonzero(steps <= 0.0)
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"frequencies must be strictly increasing: omega[{i}] = {omega[i]} "
            f">= omega[{i + 1}] = {omega[i + 1]}"
        )
    bad = np.flatnonzero(values < 0.0)
    if bad.size:
        raise ValueError(
            f"alpha^2F must be non-negative, got alpha^2F[{bad[0]}] = {values[bad[0]]}"
        )
    if not np.any(values > 0.0):
        raise ValueError("alpha^2F is zero everywhere: lambda = 0, no phonon-mediated pairing")
    return omega, values


def validate_mustar(mustar: float) -> float:
    """Return mu* as float if it lies in :data:`~aiida_clathrate.eliashberg.mustar.MUSTAR_RANGE`
    ([0, 0.5)), else raise ``ValueError`` (one value; lists: :func:`.mustar.check_mustar`)."""
    return check_mustar_value(mustar)


def quadrature_weights(omega_mev: np.ndarray) -> np.ndarray:
    """Trapezoid weights on ``omega`` extended by omega = 0 (where the integrand is taken as 0)."""
    grid = np.concatenate(([0.0], omega_mev))
    weights = np.zeros(grid.size)
    steps = np.diff(grid)
    weights[:-1] += 0.5 * steps
    weights[1:] += 0.5 * steps
    return weights[1:]


def spectral_moments(omega_mev, a2f) -> SpectralMoments:
    """lambda = 2 int a2F/w, omega_log = exp[(2/lambda) int ln(w) a2F/w], omega_2 = sqrt<w^2>."""
    omega, values = validate_spectrum(omega_mev, a2f)
    w = quadrature_weights(omega) * values / omega
    lam = 2.0 * float(np.sum(w))
    if not lam > 0.0:
        raise ValueError(f"lambda = {lam} is not positive")
    omega_log = float(np.exp(2.0 * np.sum(w * np.log(omega)) / lam))
    omega_2 = float(np.sqrt(2.0 * np.sum(w * omega**2) / lam))
    support = omega[values > 0.0]
    return SpectralMoments(lam, omega_log, omega_2, float(support[-1]))


def cumulative_lambda(omega_mev, a2f) -> np.ndarray:
    """lambda(omega) = 2 int_0^omega a2F(w)/w dw on the input grid (last value equals lambda)."""
    omega, values = validate_spectrum(omega_mev, a2f)
    integrand = values / omega
    grid = np.concatenate(([0.0], omega))
    f = np.concatenate(([0.0], integrand))
    segments = 0.5 * (f[1:] + f[:-1]) * np.diff(grid)
    # the first segment's left end is 0, consistent with quadrature_weights
    return 2.0 * np.cumsum(segments)


def mode_lambdas(omega_mev, a2f_modes) -> np.ndarray:
    """Per-column coupling constants 2 int a2F_nu/w for an (n_omega, n_modes) array."""
    omega = np.asarray(omega_mev, dtype=float)
    modes = np.asarray(a2f_modes, dtype=float)
    if modes.ndim == 1:
        modes = modes[:, None]
    w = quadrature_weights(omega) / omega
    return 2.0 * (w[:, None] * modes).sum(axis=0)
