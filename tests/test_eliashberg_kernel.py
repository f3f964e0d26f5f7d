"""Unit tests of the Eliashberg kernel pieces: moments, closed forms, Matsubara algebra, Pade."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_clathrate.eliashberg import (
    EliashbergSettings,
    MatsubaraSystem,
    PadeContinuation,
    PreparedSpectrum,
    allen_dynes_factors,
    allen_dynes_tc,
    cumulative_lambda,
    einstein_spectrum,
    gaussian_bands,
    low_tc_spectrum,
    matsubara_count,
    mcmillan_tc,
    rescale_mustar,
    run_eliashberg,
    solve_tc,
    spectral_moments,
    to_mev,
    validate_spectrum,
)
from aiida_clathrate.eliashberg import matsubara as matsubara_module
from aiida_clathrate.units import KB_MEV_PER_KELVIN


def test_moments_of_einstein_spectrum():
    omega, a2f = einstein_spectrum(30.0, 0.8, relative_width=0.001)
    moments = spectral_moments(omega, a2f)
    assert moments.lambda_ == pytest.approx(0.8, rel=1e-12)
    assert moments.omega_log_mev == pytest.approx(30.0, rel=1e-5)
    assert moments.omega_2_mev == pytest.approx(30.0, rel=1e-5)


def test_moments_of_two_bands_and_cumulative_lambda():
    omega = np.linspace(0.1, 100.0, 2000)
    a2f = gaussian_bands(omega, [20.0, 70.0], [0.5, 0.7], [0.6, 0.4])
    moments = spectral_moments(omega, a2f)
    assert moments.lambda_ == pytest.approx(1.0, rel=1e-10)
    # omega_log = exp(sum lambda_i ln w_i / lambda) for narrow bands
    assert moments.omega_log_mev == pytest.approx(
        np.exp(0.6 * np.log(20) + 0.4 * np.log(70)), rel=2e-3
    )
    running = cumulative_lambda(omega, a2f)
    assert running[-1] == pytest.approx(moments.lambda_, rel=1e-12)
    assert np.all(np.diff(running) >= 0)
    assert running[np.searchsorted(omega, 45.0)] == pytest.approx(0.6, rel=1e-3)


def test_closed_forms_known_values():
    # hand-evaluated: lambda = 1, omega_log = 20 meV, mu* = 0.1
    lam, wlog, mu = 1.0, 20.0, 0.1
    expected = wlog / KB_MEV_PER_KELVIN / 1.2 * np.exp(-1.04 * 2.0 / (1.0 - 0.1 * 1.62))
    assert mcmillan_tc(lam, wlog, mu) == pytest.approx(expected, rel=1e-12)
    f1, f2 = allen_dynes_factors(lam, wlog, wlog, mu)
    assert f2 == pytest.approx(1.0)  # Einstein: omega_2 = omega_log
    assert f1 == pytest.approx((1 + (1 / (2.46 * 1.38)) ** 1.5) ** (1 / 3), rel=1e-12)
    assert allen_dynes_tc(lam, wlog, 1.5 * wlog, mu) > allen_dynes_tc(lam, wlog, wlog, mu)
    assert mcmillan_tc(0.1, wlog, 0.2) == 0.0  # repulsion wins


@pytest.mark.parametrize(
    ("omega", "a2f", "message"),
    [
        ([1.0, 2.0, 3.0], [0.1, -0.2, 0.1], "non-negative"),
        ([1.0, 2.0, 3.0], [0.1, np.nan, 0.1], "non-finite"),
        ([1.0, 3.0, 2.0], [0.1, 0.2, 0.1], "strictly increasing"),
        ([0.0, 1.0], [0.3, 0.2], "2 points at positive frequency"),  # omega = 0 is dropped
        ([-1.0, 1.0, 2.0], [0.0, 0.2, 0.1], "positive"),
        ([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], "lambda = 0"),
        ([1.0, 2.0], [0.1, 0.2, 0.3], "points"),
    ],
)
def test_bad_spectra_are_rejected(omega, a2f, message):
    with pytest.raises(ValueError, match=message):
        validate_spectrum(omega, a2f)
    with pytest.raises(ValueError, match=message):
        run_eliashberg(omega, a2f, [0.1])


@pytest.mark.parametrize("mustar", [-0.01, 0.5, 0.7, np.nan])
def test_bad_mustar_is_rejected(mustar):
    omega, a2f = einstein_spectrum(30.0, 1.0)
    with pytest.raises(ValueError, match=r"mu\* must lie in \[0, 0.5\)"):
        solve_tc(omega, a2f, mustar)
    with pytest.raises(ValueError, match="mu"):
        mcmillan_tc(1.0, 20.0, mustar)


def test_settings_validation_and_unknown_keys():
    with pytest.raises(ValueError, match="unknown Eliashberg setting"):
        EliashbergSettings.from_dict({"omega_cutof_factor": 5})
    with pytest.raises(ValueError, match="omega_cutoff_factor"):
        EliashbergSettings(omega_cutoff_factor=-1)
    assert EliashbergSettings.from_dict({"pade_points": 50}).pade_points == 50


def test_mustar_rescaling():
    assert rescale_mustar(0.13, 100.0, 100.0) == pytest.approx(0.13)
    up = rescale_mustar(0.13, 100.0, 1000.0)
    assert up == pytest.approx(0.13 / (1 + 0.13 * np.log(0.1)))
    assert up > 0.13
    # round trip
    assert rescale_mustar(up, 1000.0, 100.0) == pytest.approx(0.13)
    settings = EliashbergSettings(mustar_reference_cutoff_mev=100.0)
    assert settings.effective_mustar(0.13, 1000.0) == pytest.approx(up)
    assert EliashbergSettings().effective_mustar(0.13, 1000.0) == 0.13


def test_units():
    assert to_mev(1.0, "THz") == pytest.approx(4.135667696)
    assert to_mev(1.0, "cm^-1") == pytest.approx(0.1239841984)
    assert to_mev(1.0, "Ry") == pytest.approx(13605.693122994)
    with pytest.raises(ValueError, match="unknown frequency unit"):
        to_mev(1.0, "furlong")


def test_matsubara_count():
    t = 1.0
    assert matsubara_count(t, np.pi * t * 1.0) == 1  # omega_0 = pi T exactly at the cutoff
    assert matsubara_count(t, np.pi * t * 2.9) == 1
    assert matsubara_count(t, np.pi * t * 3.0) == 2
    assert matsubara_count(t, 0.5) == 0


def _dense_system(mustar=0.12, temperature=3.0):
    omega, a2f = low_tc_spectrum()
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    return MatsubaraSystem(spectrum, temperature, mustar, 400.0, min_matsubara=600)


def test_fft_fold_matches_explicit_sums():
    system = _dense_system()
    rng = np.random.default_rng(7)
    x = rng.normal(size=system.n)
    n = np.arange(system.n)
    toeplitz = system.lam[np.abs(n[:, None] - n[None, :])]
    hankel = system.lam[n[:, None] + n[None, :] + 1]
    np.testing.assert_allclose(system.fold(x, +1), (toeplitz + hankel) @ x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(system.fold(x, -1), (toeplitz - hankel) @ x, rtol=1e-10, atol=1e-12)
    # theta covers only the frequencies below the cutoff, the lambda sums go further
    assert system.n == 600 and system.n_cutoff < system.n and system.theta.sum() == system.n_cutoff


def test_linearized_matrix_is_symmetric_and_equivalent_to_unsymmetrized_problem():
    system = _dense_system()
    matrix = system.linearized_matrix()
    np.testing.assert_allclose(matrix, matrix.T, rtol=0, atol=1e-14)
    rng = np.random.default_rng(3)
    v = rng.normal(size=system.n)
    np.testing.assert_allclose(system.linearized_matvec(v), matrix @ v, rtol=1e-9, atol=1e-12)
    # the original (non-symmetric) kernel K_nm = pi T B_nm / (Z_n omega_m) has the same spectrum
    n = np.arange(system.n)
    b = system.lam[np.abs(n[:, None] - n[None, :])] + system.lam[n[:, None] + n[None, :] + 1]
    b -= 2 * system.mustar * np.outer(system.theta, system.theta)
    kernel = np.pi * system.t_mev * b / system.z_normal[:, None] / system.omega[None, :]
    assert np.max(np.linalg.eigvals(kernel).real) == pytest.approx(
        system.max_eigenvalue(), rel=1e-9
    )


def test_lanczos_and_dense_eigenvalues_agree(monkeypatch):
    system = _dense_system()
    monkeypatch.setattr(matsubara_module, "DENSE_EIGEN_LIMIT", 10**6)
    dense = system.max_eigenvalue()
    monkeypatch.setattr(matsubara_module, "DENSE_EIGEN_LIMIT", 0)
    lanczos = system.max_eigenvalue()
    assert lanczos == pytest.approx(dense, rel=1e-9)


def test_normal_state_z_is_one_plus_lambda_at_lowest_frequency():
    system = _dense_system()
    assert system.z_normal[0] == pytest.approx(1.0 + system.lam[0], rel=1e-12)
    assert system.lam[0] == pytest.approx(system.spectrum.lambda_, rel=1e-12)


def test_tc_bracketing_needs_no_guess_and_meets_tolerance():
    omega, a2f = einstein_spectrum(50.0, 1.0)
    coarse = solve_tc(omega, a2f, 0.1, EliashbergSettings(tc_tolerance_kelvin=0.05))
    fine = solve_tc(omega, a2f, 0.1, EliashbergSettings(tc_tolerance_kelvin=1e-4))
    assert coarse.tc_kelvin == pytest.approx(fine.tc_kelvin, abs=0.05)
    spectrum = PreparedSpectrum.from_arrays(omega, a2f)
    below = MatsubaraSystem(spectrum, fine.tc_kelvin - 0.01, 0.1, fine.cutoff_mev, 32)
    above = MatsubaraSystem(spectrum, fine.tc_kelvin + 0.01, 0.1, fine.cutoff_mev, 32)
    assert below.max_eigenvalue() > 1.0 > above.max_eigenvalue()


def test_tc_below_lowest_temperature_is_zero():
    omega, a2f = einstein_spectrum(50.0, 0.2)
    result = solve_tc(omega, a2f, 0.15, EliashbergSettings(min_temperature_kelvin=0.5))
    assert result.tc_kelvin == 0.0 and not result.superconducting
    summary = run_eliashberg(omega, a2f, [0.15], EliashbergSettings(min_temperature_kelvin=0.5))
    assert summary.results[0].gap_ratio == 0.0 and summary.curves == []


def test_pade_reproduces_a_rational_function():
    # f(z) = 1 / (z^2 - a^2) style even function of omega_n with known continuation
    a = 3.0
    matsubara = np.pi * 0.1 * (2 * np.arange(60) + 1)
    values = 2.0 + 5.0 / (matsubara**2 + a**2)  # = 2 - 5/((i w)^2 - a^2)
    continuation = PadeContinuation(matsubara, values, 40)
    real_omega = np.array([0.0, 1.0, 2.0, 2.5])
    expected = 2.0 - 5.0 / (real_omega**2 - a**2)
    np.testing.assert_allclose(continuation(real_omega).real, expected, rtol=1e-6)


def test_summary_as_dict_keys_and_units():
    omega, a2f = einstein_spectrum(40.0, 1.2)
    summary = run_eliashberg(omega, a2f, [0.1, 0.15], EliashbergSettings(gap_curve_points=5))
    data = summary.as_dict()
    for key in (
        "lambda",
        "omega_log_mev",
        "omega_2_mev",
        "omega_cutoff_mev",
        "tc_eliashberg_kelvin",
        "tc_allen_dynes_kelvin",
        "tc_mcmillan_kelvin",
        "delta_0_mev",
        "gap_ratio",
    ):
        assert key in data
    assert data["mustar"] == [0.1, 0.15]
    assert data["omega_cutoff_mev"] == pytest.approx(10 * data["omega_max_mev"])
    assert len(summary.curves) == 2 and summary.curve_temperatures_kelvin.size == 5
    low, high = summary.curves
    assert low.delta_lowest_mev[0] > high.delta_lowest_mev[0] > 0
    assert low.delta_lowest_mev[-1] == 0.0  # the grid ends at the highest Tc


def test_plots(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from aiida_clathrate.eliashberg.plotting import plot_alpha2f_lambda, plot_gap_curve

    omega, a2f = einstein_spectrum(40.0, 1.2, relative_width=0.1)
    figure, ax, twin = plot_alpha2f_lambda(omega, a2f, unit="meV")
    assert twin.get_lines()[0].get_xdata()[-1] == pytest.approx(1.2, rel=1e-6)
    figure.savefig(tmp_path / "a2f.png")
    figure, ax = plot_gap_curve([1.0, 2.0, 3.0], [[1.0, 0.8, 0.0], [0.9, 0.5, 0.0]], ["a", "b"])
    assert len(ax.get_lines()) == 2
    figure.savefig(tmp_path / "gap.png")
    assert (tmp_path / "a2f.png").stat().st_size > 0
