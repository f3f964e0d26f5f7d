"""Physics validation of the isotropic Eliashberg solver (plain Python, no AiiDA)."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_clathrate.eliashberg import (
    KB_MEV_PER_KELVIN,
    EliashbergSettings,
    PreparedSpectrum,
    allen_dynes_tc,
    clathrate_like_spectrum,
    delta_zero,
    einstein_spectrum,
    gaussian_bands,
    mcmillan_tc,
    run_eliashberg,
    solve_gap_at_temperature,
    solve_tc,
    spectral_moments,
)

BCS_GAP_RATIO = 3.528
ALLEN_DYNES_ASYMPTOTE = 0.1827


def test_weak_coupling_gap_ratio_is_bcs():
    omega, a2f = einstein_spectrum(50.0, 0.3)
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    tc = solve_tc(omega, a2f, 0.0, spectrum=spectrum)
    assert 100 < tc.n_matsubara < 400  # low hundreds at Tc (about 5.8 K)
    delta0, t_gap = delta_zero(spectrum, 0.0, tc.tc_kelvin)
    assert t_gap == pytest.approx(0.2 * tc.tc_kelvin)
    ratio = 2.0 * delta0 / (KB_MEV_PER_KELVIN * tc.tc_kelvin)
    assert ratio == pytest.approx(BCS_GAP_RATIO, rel=0.02)


def test_strong_coupling_approaches_allen_dynes_asymptote():
    ratios = []
    for lam in (5.0, 10.0, 20.0):
        omega, a2f = einstein_spectrum(50.0, lam)
        tc = solve_tc(omega, a2f, 0.0).tc_kelvin
        ratios.append(KB_MEV_PER_KELVIN * tc / (np.sqrt(lam) * 50.0))
    assert ratios[0] < ratios[1] < ratios[2]  # approaches from below as lambda grows
    assert ratios[2] == pytest.approx(ALLEN_DYNES_ASYMPTOTE, rel=0.03)


def test_linearized_tc_matches_closing_of_nonlinear_gap():
    omega, a2f = clathrate_like_spectrum()
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    settings = EliashbergSettings()
    tc = solve_tc(omega, a2f, 0.13, settings, spectrum)
    fractions = np.array([0.99, 0.995, 0.998])
    gaps = []
    for fraction in fractions:
        solution = solve_gap_at_temperature(
            spectrum, fraction * tc.tc_kelvin, tc.mustar_at_cutoff, tc.cutoff_mev, settings
        )
        gaps.append(solution.delta_lowest_mev)
    gaps = np.array(gaps)
    assert np.all(gaps > 0) and np.all(np.diff(gaps) < 0)
    # Delta^2 is linear in (Tc - T) near Tc: extrapolate where the nonlinear gap vanishes
    slope, intercept = np.polyfit(fractions * tc.tc_kelvin, gaps**2, 1)
    closing = -intercept / slope
    assert closing == pytest.approx(tc.tc_kelvin, abs=0.5)
    above = solve_gap_at_temperature(
        spectrum, tc.tc_kelvin + 0.5, tc.mustar_at_cutoff, tc.cutoff_mev, settings
    )
    assert np.all(above.delta_mev == 0.0)


@pytest.mark.parametrize("spectrum_name", ["einstein", "clathrate"])
def test_tc_converges_with_cutoff_when_mustar_is_rescaled(spectrum_name):
    if spectrum_name == "einstein":
        omega, a2f = einstein_spectrum(50.0, 1.0)
    else:
        omega, a2f = clathrate_like_spectrum()
    omega_max = spectral_moments(omega, a2f).omega_max_mev
    reference = 10.0 * omega_max
    tcs = {}
    for factor in (10.0, 20.0):
        settings = EliashbergSettings(
            omega_cutoff_factor=factor, mustar_reference_cutoff_mev=reference, min_matsubara=1
        )
        tcs[factor] = solve_tc(omega, a2f, 0.13, settings).tc_kelvin
    assert tcs[20.0] == pytest.approx(tcs[10.0], rel=0.01)
    # without rescaling the same mu* at twice the cutoff is a weaker effective repulsion
    plain = solve_tc(
        omega, a2f, 0.13, EliashbergSettings(omega_cutoff_factor=20.0, min_matsubara=1)
    )
    assert plain.tc_kelvin > tcs[20.0]


def _broad(lam):
    omega = np.linspace(0.2, 40.0, 400)
    return omega, gaussian_bands(omega, [8.0, 25.0], [3.0, 5.0], [0.5 * lam, 0.5 * lam])


@pytest.mark.parametrize("lam", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("shape", ["einstein", "broad"])
def test_moderate_coupling_agrees_with_allen_dynes(lam, shape):
    """mu* of the closed forms refers to the phonon scale: the solver takes it at omega_max and
    rescales it (Allen-Mitrovic) to omega_c = 10 omega_max."""
    omega, a2f = einstein_spectrum(25.0, lam) if shape == "einstein" else _broad(lam)
    moments = spectral_moments(omega, a2f)
    settings = EliashbergSettings(mustar_reference_cutoff_mev=moments.omega_max_mev)
    for mu in (0.10, 0.13, 0.15):
        tc = solve_tc(omega, a2f, mu, settings).tc_kelvin
        ad = allen_dynes_tc(moments.lambda_, moments.omega_log_mev, moments.omega_2_mev, mu)
        assert tc == pytest.approx(ad, rel=0.15), (lam, shape, mu, tc, ad)


@pytest.mark.parametrize("lam", [1.75, 2.5, 4.0])
def test_strong_coupling_exceeds_mcmillan(lam):
    omega, a2f = _broad(lam)
    moments = spectral_moments(omega, a2f)
    for settings in (
        EliashbergSettings(),
        EliashbergSettings(mustar_reference_cutoff_mev=moments.omega_max_mev),
    ):
        for mu in (0.10, 0.15):
            tc = solve_tc(omega, a2f, mu, settings).tc_kelvin
            assert tc > mcmillan_tc(moments.lambda_, moments.omega_log_mev, mu)


def test_clathrate_like_spectrum_in_study_range():
    omega, a2f = clathrate_like_spectrum()
    moments = spectral_moments(omega, a2f)
    assert 1.5 <= moments.lambda_ <= 2.0
    summary = run_eliashberg(omega, a2f, (0.10, 0.13, 0.15), with_curve=False)
    tcs = [r.tc_eliashberg_kelvin for r in summary.results]
    assert all(50.0 <= tc <= 120.0 for tc in tcs), tcs
    assert tcs[0] > tcs[1] > tcs[2]
    for r in summary.results:
        assert 3.9 < r.gap_ratio < 5.5  # strong-coupling enhancement over BCS
        assert r.tc_eliashberg_kelvin > r.tc_allen_dynes_kelvin > r.tc_mcmillan_kelvin


def test_anderson_mixing_does_not_stall_near_tc():
    omega, a2f = clathrate_like_spectrum()
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    tc = solve_tc(omega, a2f, 0.13, spectrum=spectrum)
    temperature = 0.995 * tc.tc_kelvin
    accelerated = solve_gap_at_temperature(
        spectrum, temperature, tc.mustar_at_cutoff, tc.cutoff_mev, EliashbergSettings()
    )
    plain = solve_gap_at_temperature(
        spectrum,
        temperature,
        tc.mustar_at_cutoff,
        tc.cutoff_mev,
        EliashbergSettings(anderson_history=0, max_iterations=20000),
    )
    assert accelerated.iterations < 40
    assert plain.iterations > 10 * accelerated.iterations  # plain mixing slows down near Tc
    assert accelerated.delta_lowest_mev == pytest.approx(plain.delta_lowest_mev, rel=1e-5)
    assert accelerated.residual_mev <= 1e-8 * abs(accelerated.delta_lowest_mev) + 1e-12
