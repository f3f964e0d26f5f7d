"""Matsubara-axis kernel of the isotropic Eliashberg equations and the linearized gap equation.

Conventions (constant density of states, half filling): with omega_n = pi T (2n+1) and the
bosonic kernel lambda(k) = int 2 w a2F(w) / (w^2 + (2 pi T k)^2) dw,

    Z_n     = 1 + (pi T / omega_n) sum_m lambda(n-m) omega_m / R_m,
    Z_n D_n =      pi T           sum_m [lambda(n-m) - mu* th_n th_m] D_m / R_m,

with R_m = sqrt(omega_m^2 + D_m^2) and th_n = 1 for |omega_n| <= omega_c.  Z and D are even in
n -> -n-1, so only n >= 0 is stored and sums over m < 0 fold into lambda(n-m) +- lambda(n+m+1).
The lambda sums are Toeplitz (they depend on n-m only): they are done as one FFT convolution over
the symmetric grid m = -N..N-1, O(N log N) per evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import fft as sp_fft
from scipy import linalg as sp_linalg
from scipy.sparse import linalg as sp_sparse_linalg

from ..units import KB_MEV_PER_KELVIN
from .spectrum import (
    OMEGA_MAX_THRESHOLD,
    check_omega_max_threshold,
    phonon_max_mev,
    quadrature_weights,
    spectral_moments,
    validate_spectrum,
)

DENSE_EIGEN_LIMIT = 200
"""Above this many Matsubara frequencies the linearized problem uses Lanczos on FFT products."""


@dataclass(frozen=True)
class PreparedSpectrum:
    """alpha^2F reduced to what the kernel needs: lambda(nu) = sum_j c_j / (w_j^2 + nu^2).

    ``omega_max_mev`` is the highest phonon frequency at ``omega_max_threshold``
    (:func:`~.spectrum.phonon_max_mev`), ``omega_support_max_mev`` the last point with
    alpha^2F > 0; the validated spectrum is kept to re-evaluate omega_max at another threshold.
    """

    omega_sq: np.ndarray
    coefficients: np.ndarray
    lambda_: float
    omega_log_mev: float
    omega_2_mev: float
    omega_max_mev: float
    omega_support_max_mev: float | None = None
    omega_max_threshold: float = OMEGA_MAX_THRESHOLD
    omega_mev: np.ndarray | None = field(default=None, repr=False)
    a2f: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_arrays(
        cls, omega_mev, a2f, omega_max_threshold: float = OMEGA_MAX_THRESHOLD
    ) -> PreparedSpectrum:
        omega, values = validate_spectrum(omega_mev, a2f)
        moments = spectral_moments(omega, values, omega_max_threshold)
        coefficients = 2.0 * quadrature_weights(omega) * omega * values
        keep = coefficients > 0.0
        return cls(
            omega_sq=omega[keep] ** 2,
            coefficients=coefficients[keep],
            lambda_=moments.lambda_,
            omega_log_mev=moments.omega_log_mev,
            omega_2_mev=moments.omega_2_mev,
            omega_max_mev=moments.omega_max_mev,
            omega_support_max_mev=moments.omega_support_max_mev,
            omega_max_threshold=moments.omega_max_threshold,
            omega_mev=omega,
            a2f=values,
        )

    def with_omega_max_threshold(self, threshold: float) -> PreparedSpectrum:
        """This spectrum with omega_max taken at ``threshold`` (itself if that is its own)."""
        threshold = check_omega_max_threshold(threshold)
        if threshold == self.omega_max_threshold:
            return self
        if self.omega_mev is None or self.a2f is None:
            raise ValueError(
                f"omega_max_threshold {threshold} differs from the spectrum's "
                f"{self.omega_max_threshold}, and the spectrum was built without its alpha^2F: "
                "use PreparedSpectrum.from_arrays"
            )
        return replace(
            self,
            omega_max_mev=phonon_max_mev(self.omega_mev, self.a2f, threshold),
            omega_max_threshold=threshold,
        )

    def bosonic_lambda(self, nu_mev: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
        """lambda(nu) for an array of bosonic frequencies nu (meV)."""
        nu_sq = np.asarray(nu_mev, dtype=float) ** 2
        out = np.empty(nu_sq.size)
        step = max(1, chunk // max(1, self.omega_sq.size))
        for start in range(0, nu_sq.size, step):
            block = nu_sq[start : start + step]
            out[start : start + step] = self.coefficients @ (
                1.0 / (self.omega_sq[:, None] + block[None, :])
            )
        return out


def matsubara_count(temperature_mev: float, cutoff_mev: float) -> int:
    """Number of positive fermionic Matsubara frequencies pi T (2n+1) <= cutoff."""
    return max(0, int(np.floor((cutoff_mev / (np.pi * temperature_mev) - 1.0) / 2.0)) + 1)


class MatsubaraSystem:
    """Kernel of the isotropic equations at one temperature (positive frequencies n = 0..N-1)."""

    def __init__(
        self,
        spectrum: PreparedSpectrum,
        temperature_kelvin: float,
        mustar: float,
        cutoff_mev: float,
        min_matsubara: int = 32,
    ) -> None:
        if not (np.isfinite(temperature_kelvin) and temperature_kelvin > 0):
            raise ValueError(f"temperature must be positive, got {temperature_kelvin!r} K")
        self.spectrum = spectrum
        self.temperature_kelvin = float(temperature_kelvin)
        self.t_mev = self.temperature_kelvin * KB_MEV_PER_KELVIN
        self.mustar = float(mustar)
        self.cutoff_mev = float(cutoff_mev)
        self.n_cutoff = matsubara_count(self.t_mev, self.cutoff_mev)
        self.n = max(self.n_cutoff, int(min_matsubara), 1)
        index = np.arange(self.n)
        self.omega = np.pi * self.t_mev * (2 * index + 1)
        self.theta = (index < self.n_cutoff).astype(float)
        # lambda(k) for k = 0..2N
        self.lam = spectrum.bosonic_lambda(2.0 * np.pi * self.t_mev * np.arange(2 * self.n + 1))
        partial = np.concatenate(([0.0], np.cumsum(self.lam[1 : self.n])))
        # Z of the normal state, exact for the infinite Matsubara sum
        self.z_normal = 1.0 + np.pi * self.t_mev / self.omega * (self.lam[0] + 2.0 * partial)
        self._kernel_fft = None
        self._fft_len = 0

    # ---- Toeplitz products via FFT ------------------------------------------------------ #
    def _prepare_fft(self) -> None:
        n = self.n
        distances = np.abs(np.arange(-(n - 1), 2 * n))  # n - m for n in [0,N), m in [-N,N)
        kernel = self.lam[distances]
        self._fft_len = sp_fft.next_fast_len(2 * n + kernel.size - 1, real=True)
        self._kernel_fft = sp_fft.rfft(kernel, self._fft_len)

    def fold(self, values: np.ndarray, parity: int) -> np.ndarray:
        """sum_{m=-N}^{N-1} lambda(n-m) g_m for g_m = values_m (m >= 0), g_{-m-1} = parity*values_m.

        ``values`` may be (N,) or (k, N); returns the same shape.
        """
        if self._kernel_fft is None:
            self._prepare_fft()
        n = self.n
        values = np.asarray(values, dtype=float)
        extended = np.concatenate((parity * values[..., ::-1], values), axis=-1)
        product = sp_fft.irfft(
            sp_fft.rfft(extended, self._fft_len) * self._kernel_fft, self._fft_len
        )
        return product[..., 2 * n - 1 : 3 * n - 1]

    # ---- linearized gap equation -------------------------------------------------------- #
    def linearized_matrix(self) -> np.ndarray:
        """Symmetric S_nm = pi T B_nm / sqrt(Z_n w_n Z_m w_m), B = lambda(n-m)+lambda(n+m+1)-2mu* th th."""
        n = np.arange(self.n)
        kernel = self.lam[np.abs(n[:, None] - n[None, :])] + self.lam[n[:, None] + n[None, :] + 1]
        kernel -= 2.0 * self.mustar * np.outer(self.theta, self.theta)
        scale = 1.0 / np.sqrt(self.z_normal * self.omega)
        return np.pi * self.t_mev * scale[:, None] * kernel * scale[None, :]

    def linearized_matvec(self, vector: np.ndarray) -> np.ndarray:
        """S @ vector in O(N log N) with the FFT fold (same S as :meth:`linearized_matrix`)."""
        scale = 1.0 / np.sqrt(self.z_normal * self.omega)
        u = scale * vector
        coulomb = 2.0 * self.mustar * self.theta * np.dot(self.theta, u)
        return np.pi * self.t_mev * scale * (self.fold(u, +1) - coulomb)

    def max_eigenvalue(self) -> float:
        """Largest eigenvalue of the symmetric linearized kernel (= 1 at Tc)."""
        if self.n <= DENSE_EIGEN_LIMIT:
            values = sp_linalg.eigh(
                self.linearized_matrix(),
                eigvals_only=True,
                subset_by_index=[self.n - 1, self.n - 1],
                driver="evr",
            )
            return float(values[-1])
        operator = sp_sparse_linalg.LinearOperator(
            (self.n, self.n), matvec=self.linearized_matvec, dtype=float
        )
        start = np.exp(-self.omega / max(self.spectrum.omega_max_mev, self.omega[0]))
        values = sp_sparse_linalg.eigsh(
            operator, k=1, which="LA", v0=start, tol=1e-10, return_eigenvectors=False
        )
        return float(values[-1])
