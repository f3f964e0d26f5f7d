"""One call from alpha^2F and a list of mu* to moments, closed-form and Eliashberg Tc, Delta_0, Delta(T)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..units import KB_MEV_PER_KELVIN
from .formulas import allen_dynes_tc, mcmillan_tc
from .gap import GapCurve, gap_curve, solve_gap_at_temperature
from .matsubara import PreparedSpectrum
from .mustar import DEFAULT_MUSTAR, check_mustar
from .settings import EliashbergSettings
from .tc import solve_tc


@dataclass(frozen=True)
class MustarResult:
    """Results for one mu* (temperatures in K, energies in meV)."""

    mustar: float
    mustar_at_cutoff: float
    tc_eliashberg_kelvin: float
    tc_allen_dynes_kelvin: float
    tc_mcmillan_kelvin: float
    n_matsubara_at_tc: int
    delta_0_mev: float
    gap_temperature_kelvin: float
    gap_ratio: float


@dataclass(frozen=True)
class EliashbergSummary:
    """Everything the calcfunction and the CLI report."""

    lambda_: float
    omega_log_mev: float
    omega_2_mev: float
    omega_max_mev: float
    omega_cutoff_mev: float
    mustar_convention: str
    settings: EliashbergSettings
    results: list[MustarResult]
    curves: list[GapCurve] = field(default_factory=list)
    curve_temperatures_kelvin: np.ndarray | None = None
    omega_support_max_mev: float | None = None

    def as_dict(self) -> dict:
        """Flat JSON-serialisable dict: per-mu* quantities as lists aligned with ``mustar``.

        ``omega_max_mev`` is omega_max at ``settings['omega_max_threshold']`` (what sets
        omega_c), ``omega_support_max_mev`` the last frequency with alpha^2F > 0.
        """
        out = {
            "lambda": self.lambda_,
            "omega_log_mev": self.omega_log_mev,
            "omega_log_kelvin": self.omega_log_mev / KB_MEV_PER_KELVIN,
            "omega_2_mev": self.omega_2_mev,
            "omega_max_mev": self.omega_max_mev,
            "omega_support_max_mev": self.omega_support_max_mev,
            "omega_cutoff_mev": self.omega_cutoff_mev,
            "mustar_convention": self.mustar_convention,
            "settings": self.settings.as_dict(),
        }
        keys = {
            "mustar": "mustar",
            "mustar_at_cutoff": "mustar_at_cutoff",
            "tc_eliashberg_kelvin": "tc_eliashberg_kelvin",
            "tc_allen_dynes_kelvin": "tc_allen_dynes_kelvin",
            "tc_mcmillan_kelvin": "tc_mcmillan_kelvin",
            "n_matsubara_at_tc": "n_matsubara_at_tc",
            "delta_0_mev": "delta_0_mev",
            "gap_temperature_kelvin": "gap_temperature_kelvin",
            "gap_ratio": "gap_ratio",
        }
        for key, attribute in keys.items():
            out[key] = [getattr(result, attribute) for result in self.results]
        return out


def mustar_convention(settings: EliashbergSettings) -> str:
    """Human-readable statement of how mu* is applied."""
    if settings.mustar_reference_cutoff_mev is None:
        return "as_given_at_cutoff"
    return f"allen_mitrovic_from_{settings.mustar_reference_cutoff_mev:g}_mev"


def delta_zero(
    spectrum: PreparedSpectrum,
    mustar: float,
    tc_kelvin: float,
    settings: EliashbergSettings | None = None,
) -> tuple[float, float]:
    """(Delta_0 in meV, T used in K): real-axis edge gap at T = gap_temperature_fraction * Tc."""
    settings = settings or EliashbergSettings()
    if tc_kelvin <= 0.0:
        return 0.0, 0.0
    spectrum = spectrum.with_omega_max_threshold(settings.omega_max_threshold)
    cutoff = settings.cutoff_mev(spectrum.omega_max_mev)
    mu_c = settings.effective_mustar(mustar, cutoff)
    # as low as gap_temperature_fraction * Tc allows, with at most max_matsubara frequencies
    t_from_count = cutoff / (np.pi * (2 * settings.max_matsubara - 1)) / KB_MEV_PER_KELVIN
    temperature = max(settings.gap_temperature_fraction * tc_kelvin, t_from_count)
    if temperature >= 0.5 * tc_kelvin:
        raise ValueError(
            f"Tc = {tc_kelvin} K is too low for max_matsubara = {settings.max_matsubara} "
            f"at omega_c = {cutoff} meV"
        )
    solution = solve_gap_at_temperature(spectrum, temperature, mu_c, cutoff, settings)
    return solution.edge_gap_mev(settings.pade_points), temperature


def run_eliashberg(
    omega_mev,
    a2f,
    mustar_values=DEFAULT_MUSTAR,
    settings: EliashbergSettings | None = None,
    with_gap: bool = True,
    with_curve: bool = True,
    curve_edge: bool = False,
) -> EliashbergSummary:
    """Moments, McMillan/Allen-Dynes/Eliashberg Tc, Delta_0 and gap ratio for each mu*.

    With ``with_curve`` the Delta(T) curves share one temperature grid: ``gap_curve_points``
    temperatures from ``gap_temperature_fraction`` times the lowest Tc to the highest Tc
    (Delta = 0 above each mu*'s own Tc).  The curves hold Delta(i omega_0); ``curve_edge`` also
    Pade-continues every point to the real-axis edge (less reliable close to Tc at strong
    coupling, where few Matsubara points lie below the phonon scale).
    """
    settings = settings or EliashbergSettings()
    mustars = check_mustar(np.atleast_1d(mustar_values).tolist())
    spectrum = PreparedSpectrum.from_arrays(omega_mev, a2f, settings.omega_max_threshold)
    cutoff = settings.cutoff_mev(spectrum.omega_max_mev)
    results = []
    for mu in mustars:
        tc = solve_tc(None, None, mu, settings, spectrum)
        delta0, t_gap = (0.0, 0.0)
        if with_gap:
            delta0, t_gap = delta_zero(spectrum, mu, tc.tc_kelvin, settings)
        ratio = 2.0 * delta0 / (KB_MEV_PER_KELVIN * tc.tc_kelvin) if tc.tc_kelvin > 0 else 0.0
        results.append(
            MustarResult(
                mustar=mu,
                mustar_at_cutoff=tc.mustar_at_cutoff,
                tc_eliashberg_kelvin=tc.tc_kelvin,
                tc_allen_dynes_kelvin=allen_dynes_tc(
                    spectrum.lambda_, spectrum.omega_log_mev, spectrum.omega_2_mev, mu
                ),
                tc_mcmillan_kelvin=mcmillan_tc(spectrum.lambda_, spectrum.omega_log_mev, mu),
                n_matsubara_at_tc=tc.n_matsubara,
                delta_0_mev=delta0,
                gap_temperature_kelvin=t_gap,
                gap_ratio=ratio,
            )
        )
    curves: list[GapCurve] = []
    temperatures = None
    tcs = [r.tc_eliashberg_kelvin for r in results if r.tc_eliashberg_kelvin > 0]
    if with_curve and tcs:
        temperatures = np.linspace(
            settings.gap_temperature_fraction * min(tcs), max(tcs), settings.gap_curve_points
        )
        for result in results:
            curves.append(
                gap_curve(
                    spectrum,
                    result.mustar,
                    result.tc_eliashberg_kelvin,
                    settings,
                    temperatures,
                    edge=curve_edge,
                )
            )
    return EliashbergSummary(
        lambda_=spectrum.lambda_,
        omega_log_mev=spectrum.omega_log_mev,
        omega_2_mev=spectrum.omega_2_mev,
        omega_max_mev=spectrum.omega_max_mev,
        omega_cutoff_mev=cutoff,
        mustar_convention=mustar_convention(settings),
        settings=settings,
        results=results,
        curves=curves,
        curve_temperatures_kelvin=temperatures,
        omega_support_max_mev=spectrum.omega_support_max_mev,
    )
