"""Pade continuation (Vidberg-Serene continued fraction) from the Matsubara to the real axis."""

from __future__ import annotations

import numpy as np


def pade_coefficients(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Coefficients a_p of the N-point continued fraction through (z_i, u_i); O(N^2)."""
    z = np.asarray(points, dtype=complex)
    g = np.array(values, dtype=complex)
    if z.shape != g.shape or z.ndim != 1 or z.size < 1:
        raise ValueError(f"points and values must be 1-D of equal length, got {z.shape}, {g.shape}")
    coefficients = np.empty(z.size, dtype=complex)
    coefficients[0] = g[0]
    for p in range(1, z.size):
        g[p:] = (g[p - 1] - g[p:]) / ((z[p:] - z[p - 1]) * g[p:])
        coefficients[p] = g[p]
    return coefficients


def pade_evaluate(coefficients: np.ndarray, points: np.ndarray, z_eval) -> np.ndarray:
    """Evaluate C(z) = a0 / (1 + a1 (z - z0) / (1 + a2 (z - z1) / (1 + ...))) at ``z_eval``."""
    z = np.asarray(points, dtype=complex)
    target = np.atleast_1d(np.asarray(z_eval, dtype=complex))
    a_prev = np.zeros_like(target)
    a_curr = np.full_like(target, coefficients[0])
    b_prev = np.ones_like(target)
    b_curr = np.ones_like(target)
    for p in range(1, coefficients.size):
        factor = (target - z[p - 1]) * coefficients[p]
        a_prev, a_curr = a_curr, a_curr + factor * a_prev
        b_prev, b_curr = b_curr, b_curr + factor * b_prev
        scale = np.abs(b_curr)
        scale[scale == 0.0] = 1.0
        a_prev, a_curr, b_prev, b_curr = (
            a_prev / scale,
            a_curr / scale,
            b_prev / scale,
            b_curr / scale,
        )
    return a_curr / b_curr


class PadeContinuation:
    """Analytic continuation f(i omega_n) -> f(omega) of an even Matsubara function."""

    def __init__(self, matsubara_mev: np.ndarray, values: np.ndarray, n_points: int = 100) -> None:
        count = min(int(n_points), len(matsubara_mev))
        self.points = 1j * np.asarray(matsubara_mev[:count], dtype=float)
        self.coefficients = pade_coefficients(self.points, np.asarray(values[:count]))

    def __call__(self, omega_mev, broadening_mev: float = 1e-6) -> np.ndarray:
        z = np.asarray(omega_mev, dtype=float) + 1j * broadening_mev
        return pade_evaluate(self.coefficients, self.points, z)


def _edge_fixed_point(continuation, start, tolerance_mev, max_iterations) -> float | None:
    omega = start
    for _ in range(max_iterations):
        new = float(continuation(omega).real[0])
        if not np.isfinite(new) or new <= 0.0:
            return None
        if abs(new - omega) <= tolerance_mev * max(1.0, abs(omega)):
            return new
        omega = 0.5 * (omega + new) if abs(new - omega) > 0.5 * omega else new
    return None


def edge_gap(
    matsubara_mev: np.ndarray,
    delta_mev: np.ndarray,
    n_points: int = 100,
    tolerance_mev: float = 1e-9,
    max_iterations: int = 200,
) -> float:
    """Gap edge Delta_0 = Re Delta(omega = Delta_0) on the real axis from Pade-continued Delta(i w_n).

    Solved by fixed-point iteration omega <- Re Delta(omega) from Delta(i omega_0) with an
    ``n_points`` Pade approximant; if that fails (a spurious pole near the real axis), half and
    twice as many points are tried.  Returns 0 for a vanishing gap and raises ``RuntimeError``
    if no approximant gives a converged, positive edge.
    """
    delta = np.asarray(delta_mev, dtype=float)
    if not np.any(np.abs(delta) > 0.0):
        return 0.0
    start = abs(float(delta[0]))
    tried = []
    for count in (n_points, max(2, n_points // 2), 2 * n_points):
        count = min(count, delta.size)
        if count in tried:
            continue
        tried.append(count)
        continuation = PadeContinuation(matsubara_mev, delta, count)
        edge = _edge_fixed_point(continuation, start, tolerance_mev, max_iterations)
        if edge is not None:
            return edge
    raise RuntimeError(
        f"Pade gap-edge iteration did not converge with {tried} points (Delta(i w_0) = {delta[0]} meV)"
    )
