"""Tc with an uncertainty (kernel ``aiida_clathrate.eliashberg.uncertainty``): the alpha^2F map
against the lambda ~ 1/omega^2 scaling, the plateau, each spread against a hand value."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_clathrate.eliashberg import EliashbergSettings
from aiida_clathrate.eliashberg.models import clathrate_like_spectrum
from aiida_clathrate.eliashberg.spectrum import spectral_moments
from aiida_clathrate.eliashberg.tc import solve_tc
from aiida_clathrate.eliashberg.uncertainty import (
    central_index,
    format_tc_uncertainty,
    plateau_indices,
    remap_alpha2f,
    tc_uncertainty,
)

REFERENCE_CM1 = np.linspace(60.0, 1250.0, 39)


@pytest.mark.parametrize("scale", [0.9, 1.1])
def test_a_uniform_frequency_scale_moves_lambda_and_omega_log_as_theory_says(scale):
    """All frequencies x s at fixed linewidths: lambda / s^2, omega_log x s."""
    omega, a2f = clathrate_like_spectrum()
    before = spectral_moments(omega, a2f)
    after = spectral_moments(omega, remap_alpha2f(omega, a2f, REFERENCE_CM1, REFERENCE_CM1 * scale))
    assert after.lambda_ == pytest.approx(before.lambda_ / scale**2, rel=0.005)
    assert after.omega_log_mev == pytest.approx(before.omega_log_mev * scale, rel=0.005)


def test_a_softened_low_band_only_raises_the_low_frequency_lambda():
    omega, a2f = clathrate_like_spectrum()
    sample = REFERENCE_CM1.copy()
    sample[:5] *= 0.8  # the five lowest modes soften by 20 %
    mapped = remap_alpha2f(omega, a2f, REFERENCE_CM1, sample)
    high = omega > 1.2 * REFERENCE_CM1[8] * 0.1239841984
    np.testing.assert_allclose(mapped[high], a2f[high], rtol=1e-6, atol=1e-12)
    assert spectral_moments(omega, mapped).lambda_ > spectral_moments(omega, a2f).lambda_
    with pytest.raises(ValueError, match="reference against"):
        remap_alpha2f(omega, a2f, REFERENCE_CM1, REFERENCE_CM1[:-1])


def test_plateau_and_middle_mustar():
    assert plateau_indices([0.5, 0.8, 0.82, 0.83, 0.9], 1, 0.05) == [1, 2, 3]
    assert plateau_indices([0.5, 0.8, 0.9], 0, 0.05) == [0, 1]  # no plateau: the chosen pair
    assert plateau_indices([0.5, 0.8], 1, 0.05) == [1]
    with pytest.raises(ValueError):
        plateau_indices([0.5, 0.8], 2, 0.05)
    assert central_index([0.10, 0.13, 0.15]) == 1
    assert central_index([0.15, 0.10]) == 1


def test_each_spread_against_its_hand_value():
    omega, a2f = clathrate_like_spectrum()
    settings = EliashbergSettings()
    tcs = [solve_tc(omega, a2f, mu, settings).tc_kelvin for mu in (0.10, 0.13, 0.15)]
    wider = a2f * 1.04
    tc_wider = solve_tc(omega, wider, 0.13, settings).tc_kelvin
    # bootstrap: two samples 2 % stiffer / softer, one equal, one with an imaginary mode
    samples = np.array(
        [REFERENCE_CM1 * 1.02, REFERENCE_CM1 * 0.98, REFERENCE_CM1, np.r_[-50.0, REFERENCE_CM1[1:]]]
    )
    result = tc_uncertainty(
        tcs,
        [0.10, 0.13, 0.15],
        [(omega, a2f), (omega, wider)],
        (omega, a2f),
        settings,
        REFERENCE_CM1,
        samples,
        tolerance_cm1=10.0,
    )
    assert result.tc_kelvin == tcs[1] and result.mustar == 0.13
    assert result.mustar_kelvin == pytest.approx((tcs[0] - tcs[2]) / 2)
    assert result.broadening_kelvin == pytest.approx((tc_wider - tcs[1]) / 2, rel=1e-6)
    assert result.bootstrap_unstable == 1 and len(result.bootstrap_tc_kelvin) == 3
    assert result.bootstrap_tc_kelvin[2] == pytest.approx(tcs[1], rel=1e-3)  # unchanged sample
    # stiffer phonons, smaller lambda: Tc falls (the strong-coupling regime of this spectrum)
    assert result.bootstrap_tc_kelvin[0] < tcs[1] < result.bootstrap_tc_kelvin[1]
    assert result.sscha_kelvin == pytest.approx(np.std(result.bootstrap_tc_kelvin, ddof=1))
    assert result.total_kelvin == pytest.approx(
        np.sqrt(result.mustar_kelvin**2 + result.broadening_kelvin**2 + result.sscha_kelvin**2)
    )
    text = format_tc_uncertainty(result.as_dict())
    assert text.startswith(f"Tc = {tcs[1]:.1f} ± {result.total_kelvin:.1f} K at mu* 0.13: mu* ")
    assert "1 bootstrap sample(s) with imaginary modes" in text


def test_without_bootstrap_the_sscha_spread_is_absent():
    omega, a2f = clathrate_like_spectrum()
    result = tc_uncertainty([50.0, 45.0], [0.10, 0.13], [(omega, a2f)], (omega, a2f))
    assert result.sscha_kelvin is None and result.broadening_kelvin == 0.0
    assert result.tc_kelvin == 50.0 and result.mustar_kelvin == 2.5
    assert result.total_kelvin == 2.5
    with pytest.raises(ValueError, match="Tc values"):
        tc_uncertainty([50.0], [0.10, 0.13], [(omega, a2f)], (omega, a2f))
