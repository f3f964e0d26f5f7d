"""Nonlinear isotropic Eliashberg equations at fixed T (Z_n, Delta_n) and the gap curve Delta(T)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matsubara import MatsubaraSystem, PreparedSpectrum
from .pade import edge_gap
from .settings import EliashbergSettings


class GapConvergenceError(RuntimeError):
    """The nonlinear Eliashberg iteration did not reach the requested tolerance."""


@dataclass(frozen=True)
class GapSolution:
    """Converged Matsubara-axis solution at one temperature (omega, Delta in meV)."""

    temperature_kelvin: float
    mustar_at_cutoff: float
    omega_mev: np.ndarray
    delta_mev: np.ndarray
    z: np.ndarray
    iterations: int
    residual_mev: float

    @property
    def delta_lowest_mev(self) -> float:
        """Delta(i omega_0), the gap at the lowest Matsubara frequency."""
        return float(self.delta_mev[0])

    def edge_gap_mev(self, pade_points: int = 100) -> float:
        """Real-axis gap edge Delta_0 = Re Delta(omega = Delta_0) by Pade continuation."""
        return edge_gap(self.omega_mev, self.delta_mev, pade_points)


def gap_map(system: MatsubaraSystem, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One application of the equations: Delta -> (Delta_new, Z)."""
    omega = system.omega
    root = np.sqrt(omega**2 + delta**2)
    odd = system.fold(omega / root - 1.0, parity=-1)
    even = system.fold(delta / root, parity=+1)
    pi_t = np.pi * system.t_mev
    z = system.z_normal + pi_t / omega * odd
    coulomb = 2.0 * system.mustar * system.theta * np.dot(system.theta, delta / root)
    phi = pi_t * (even - coulomb)
    return phi / z, z


def solve_gap_at_temperature(
    spectrum: PreparedSpectrum,
    temperature_kelvin: float,
    mustar_at_cutoff: float,
    cutoff_mev: float,
    settings: EliashbergSettings | None = None,
    initial_delta=None,
) -> GapSolution:
    """Solve the nonlinear equations with Anderson-accelerated fixed-point iteration.

    ``initial_delta`` is a function omega_mev -> Delta_mev (e.g. a previous solution) or None
    (a generous constant guess, lambda/(1+lambda) * omega_log, which the iteration reduces).
    Converged when max|G(Delta) - Delta| <= gap_tolerance * max|Delta| + 1e-12 meV.  Returns a
    zero gap when the iterate collapses to the normal state (T above Tc).
    """
    settings = settings or EliashbergSettings()
    system = MatsubaraSystem(
        spectrum, temperature_kelvin, mustar_at_cutoff, cutoff_mev, settings.min_matsubara
    )
    omega = system.omega
    if initial_delta is None:
        scale = spectrum.lambda_ / (1.0 + spectrum.lambda_) * spectrum.omega_log_mev
        x = (
            np.full(system.n, scale)
            * spectrum.omega_max_mev**2
            / (spectrum.omega_max_mev**2 + omega**2)
        )
    else:
        x = np.asarray(initial_delta(omega), dtype=float)
    start_scale = max(float(np.max(np.abs(x))), 1e-300)
    history = settings.anderson_history
    beta = settings.mixing
    dx_hist: list[np.ndarray] = []
    df_hist: list[np.ndarray] = []
    x_prev = f_prev = None
    residual = np.inf
    for iteration in range(1, settings.max_iterations + 1):
        g, z = gap_map(system, x)
        f = g - x
        residual = float(np.max(np.abs(f)))
        size = float(np.max(np.abs(g)))
        collapsed = size < 1e-7 * start_scale
        if residual <= settings.gap_tolerance * size + 1e-12 and not collapsed:
            return GapSolution(
                system.temperature_kelvin, system.mustar, omega, g, z, iteration, residual
            )
        if collapsed:
            zero = np.zeros(system.n)
            return GapSolution(
                system.temperature_kelvin,
                system.mustar,
                omega,
                zero,
                system.z_normal.copy(),
                iteration,
                residual,
            )
        if history and x_prev is not None:
            dx_hist.append(x - x_prev)
            df_hist.append(f - f_prev)
            if len(dx_hist) > history:
                dx_hist.pop(0)
                df_hist.pop(0)
        x_prev, f_prev = x, f
        if history and dx_hist:
            dx = np.array(dx_hist).T
            df = np.array(df_hist).T
            gamma = np.linalg.lstsq(df, f, rcond=None)[0]
            x_new = x + beta * f - (dx + beta * df) @ gamma
            if not np.all(np.isfinite(x_new)):
                dx_hist.clear()
                df_hist.clear()
                x_new = x + beta * f
        else:
            x_new = x + beta * f
        x = x_new
    raise GapConvergenceError(
        f"Eliashberg equations not converged at T = {temperature_kelvin} K after "
        f"{settings.max_iterations} iterations (residual {residual:.3e} meV)"
    )


@dataclass(frozen=True)
class GapCurve:
    """Delta(T): lowest-Matsubara gap and real-axis edge gap (meV) on a temperature grid (K)."""

    temperatures_kelvin: np.ndarray
    delta_lowest_mev: np.ndarray
    delta_edge_mev: np.ndarray
    mustar: float
    tc_kelvin: float


def gap_curve(
    spectrum: PreparedSpectrum,
    mustar: float,
    tc_kelvin: float,
    settings: EliashbergSettings | None = None,
    temperatures_kelvin=None,
    edge: bool = True,
) -> GapCurve:
    """Delta(T) on ``temperatures_kelvin`` (default: gap_curve_points from fraction*Tc to Tc).

    Temperatures at or above ``tc_kelvin`` (from the linearized equation) get Delta = 0 without
    solving; the others are solved in increasing T, each started from the previous solution
    scaled by sqrt((Tc - T)/(Tc - T_prev)).
    """
    settings = settings or EliashbergSettings()
    spectrum = spectrum.with_omega_max_threshold(settings.omega_max_threshold)
    cutoff = settings.cutoff_mev(spectrum.omega_max_mev)
    mu_c = settings.effective_mustar(mustar, cutoff)
    if temperatures_kelvin is None:
        if tc_kelvin <= 0.0:
            temperatures = np.linspace(
                settings.min_temperature_kelvin, 1.0, settings.gap_curve_points
            )
        else:
            temperatures = np.linspace(
                settings.gap_temperature_fraction * tc_kelvin, tc_kelvin, settings.gap_curve_points
            )
    else:
        temperatures = np.asarray(temperatures_kelvin, dtype=float)
    order = np.argsort(temperatures)
    lowest = np.zeros(temperatures.size)
    edges = np.zeros(temperatures.size)
    previous: GapSolution | None = None
    for index in order:
        temperature = float(temperatures[index])
        if temperature >= tc_kelvin:
            continue
        guess = None
        if previous is not None and previous.delta_lowest_mev != 0.0:
            ratio = np.sqrt(
                max(tc_kelvin - temperature, 1e-12)
                / max(tc_kelvin - previous.temperature_kelvin, 1e-12)
            )
            prev = previous

            def guess(omega, prev=prev, ratio=ratio):
                return ratio * np.interp(omega, prev.omega_mev, prev.delta_mev)

        solution = solve_gap_at_temperature(spectrum, temperature, mu_c, cutoff, settings, guess)
        lowest[index] = solution.delta_lowest_mev
        if edge and solution.delta_lowest_mev != 0.0:
            edges[index] = solution.edge_gap_mev(settings.pade_points)
        previous = solution
    return GapCurve(temperatures, lowest, edges, float(mustar), float(tc_kelvin))
