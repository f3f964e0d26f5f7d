"""Validation, quadrature and moments of an Eliashberg spectral function alpha^2F(omega).

All frequencies are in meV.  Integrals use trapezoid weights on the given grid extended by the
point omega = 0 where alpha^2F is taken to vanish, so that ``lambda`` from :func:`spectral_moments`
is exactly the zero-frequency Matsubara kernel lambda(0) used by the solver.

The highest phonon frequency omega_max (which sets the Matsubara cutoff omega_c = 10 omega_max and
starts the Tc bracket) is the highest grid frequency at which alpha^2F reaches
``OMEGA_MAX_THRESHOLD`` = 1e-3 of its maximum (:func:`phonon_max_mev`), so that numerical tails
(Gaussian or smearing tails down to 1e-147) cannot move it; the last point with alpha^2F > 0 is
kept as ``omega_support_max_mev``.  lambda and the moments integrate the whole spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mustar import check_mustar_value

OMEGA_MAX_THRESHOLD = 1e-3
"""Default fraction of max(alpha^2F) that defines omega_max (see :func:`phonon_max_mev`)."""


@dataclass(frozen=True)
class SpectralMoments:
    """Coupling constant and characteristic frequencies of alpha^2F.

    ``omega_max_mev`` is the highest frequency where alpha^2F >= ``omega_max_threshold`` x its
    maximum (:func:`phonon_max_mev`); ``omega_support_max_mev`` the last one where alpha^2F > 0.
    """

    lambda_: float
    omega_log_mev: float
    omega_2_mev: float
    omega_max_mev: float
    omega_support_max_mev: float | None = None
    omega_max_threshold: float = OMEGA_MAX_THRESHOLD

    def as_dict(self) -> dict[str, float]:
        return {
            "lambda": self.lambda_,
            "omega_log_mev": self.omega_log_mev,
            "omega_2_mev": self.omega_2_mev,
            "omega_max_mev": self.omega_max_mev,
            "omega_support_max_mev": self.omega_support_max_mev,
            "omega_max_threshold": self.omega_max_threshold,
        }


def validate_spectrum(omega_mev, a2f) -> tuple[np.ndarray, np.ndarray]:
    """Return (omega, a2f) as float arrays or raise ``ValueError`` naming the bad value.

    Requires 1-D arrays of equal length, finite values, strictly increasing non-negative
    frequencies, non-negative alpha^2F and a non-zero coupling constant.  A first point at
    omega = 0 (QE's lambda.x, smeared spectra) is dropped together with its alpha^2F value, as
    other Eliashberg codes do (its weight 2 alpha^2F/omega is undefined there; the quadrature
    takes alpha^2F(0) = 0); at least 2 positive frequencies must remain.  Negative (imaginary)
    frequencies are refused.
    """
    omega = np.asarray(omega_mev, dtype=float)
    values = np.asarray(a2f, dtype=float)
    if omega.ndim != 1 or values.ndim != 1:
        raise ValueError(
            f"omega and alpha^2F must be 1-D, got shapes {omega.shape} and {values.shape}"
        )
    if omega.size != values.size:
        raise ValueError(f"omega has {omega.size} points but alpha^2F has {values.size}")
    bad = np.flatnonzero(~np.isfinite(omega))
    if bad.size:
        raise ValueError(f"non-finite frequency omega[{bad[0]}] = {omega[bad[0]]}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"non-finite alpha^2F[{bad[0]}] = {values[bad[0]]}")
    bad = np.flatnonzero(omega < 0.0)
    if bad.size:
        raise ValueError(
            f"frequencies must be positive, got omega[{bad[0]}] = {omega[bad[0]]}: negative "
            "frequencies are imaginary modes, which cannot carry coupling; drop those rows"
        )
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
    if omega.size and omega[0] == 0.0:
        # strictly increasing: only the first point can be omega = 0
        omega, values = omega[1:], values[1:]
    if omega.size < 2:
        raise ValueError(
            f"alpha^2F needs at least 2 points at positive frequency, got {omega.size}"
        )
    if not np.any(values > 0.0):
        raise ValueError("alpha^2F is zero everywhere: lambda = 0, no phonon-mediated pairing")
    return omega, values


def check_omega_max_threshold(threshold: float) -> float:
    """Return the omega_max threshold as float if it lies in [0, 1), else raise ``ValueError``."""
    value = float(threshold)
    if not (np.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"omega_max_threshold must lie in [0, 1), got {threshold!r}")
    return value


def phonon_max_mev(omega_mev, a2f, threshold: float = OMEGA_MAX_THRESHOLD) -> float:
    """Highest phonon frequency: the highest grid point where alpha^2F >= threshold * max(alpha^2F).

    ``threshold = 0`` gives the last point with alpha^2F > 0 (the support of the spectrum, which
    numerical tails of 1e-147 extend).  The default 1e-3 ignores any tail below 1e-3 of the peak
    however far it reaches, and keeps weak genuine bands: a band at 3x the main peak carrying 0.5 %
    of lambda peaks at ~1e-2 of the main peak (docs/eliashberg.md).
    """
    omega, values = validate_spectrum(omega_mev, a2f)
    level = check_omega_max_threshold(threshold) * float(np.max(values))
    above = (values > 0.0) & (values >= level)
    return float(omega[np.flatnonzero(above)[-1]])


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


def spectral_moments(
    omega_mev, a2f, omega_max_threshold: float = OMEGA_MAX_THRESHOLD
) -> SpectralMoments:
    """lambda = 2 int a2F/w, omega_log = exp[(2/lambda) int ln(w) a2F/w], omega_2 = sqrt<w^2>,
    omega_max (:func:`phonon_max_mev` at ``omega_max_threshold``) and the support's end."""
    omega, values = validate_spectrum(omega_mev, a2f)
    w = quadrature_weights(omega) * values / omega
    lam = 2.0 * float(np.sum(w))
    if not lam > 0.0:
        raise ValueError(f"lambda = {lam} is not positive")
    omega_log = float(np.exp(2.0 * np.sum(w * np.log(omega)) / lam))
    omega_2 = float(np.sqrt(2.0 * np.sum(w * omega**2) / lam))
    support = omega[values > 0.0]
    threshold = check_omega_max_threshold(omega_max_threshold)
    return SpectralMoments(
        lam,
        omega_log,
        omega_2,
        phonon_max_mev(omega, values, threshold),
        float(support[-1]),
        threshold,
    )


def cumulative_lambda(omega_mev, a2f) -> np.ndarray:
    """lambda(omega) = 2 int_0^omega a2F(w)/w dw on the input grid (last value equals lambda;
    0 at a dropped omega = 0 point)."""
    omega, values = validate_spectrum(omega_mev, a2f)
    integrand = values / omega
    grid = np.concatenate(([0.0], omega))
    f = np.concatenate(([0.0], integrand))
    segments = 0.5 * (f[1:] + f[:-1]) * np.diff(grid)
    # the first segment's left end is 0, consistent with quadrature_weights
    running = 2.0 * np.cumsum(segments)
    if np.size(omega_mev) > omega.size:  # the omega = 0 point validate_spectrum dropped
        running = np.concatenate(([0.0], running))
    return running


def mode_lambdas(omega_mev, a2f_modes) -> np.ndarray:
    """Per-column coupling constants 2 int a2F_nu/w for an (n_omega, n_modes) array."""
    omega = np.asarray(omega_mev, dtype=float)
    modes = np.asarray(a2f_modes, dtype=float)
    if modes.ndim == 1:
        modes = modes[:, None]
    if omega.size and omega[0] == 0.0:  # dropped as in validate_spectrum
        omega, modes = omega[1:], modes[1:]
    w = quadrature_weights(omega) / omega
    return 2.0 * (w[:, None] * modes).sum(axis=0)
