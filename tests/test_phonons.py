"""Band path and stability verdict (plain Python)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from aiida_clathrate import phonons, structures


def test_cubic_path_is_the_studys():
    qpoints, labels = phonons.band_path(structures.clathrate("K", "Rb"), npoints=60)
    names = [label for _, label in labels]
    assert names == ["GAMMA", "X", "M", "GAMMA", "R", "X", "M", "R"]
    index = dict((label, i) for i, label in labels)
    assert np.allclose(qpoints[index["X"]], [0, 0.5, 0])
    assert np.allclose(qpoints[index["M"]], [0.5, 0.5, 0])
    assert np.allclose(qpoints[index["R"]], [0.5, 0.5, 0.5])
    assert np.allclose(qpoints[0], 0)


def test_non_cubic_lattice_gets_its_own_path():
    _, labels = phonons.band_path(bulk("Al", "fcc", a=4.05), npoints=40)
    assert labels[0][1] == "GAMMA"
    assert "K" in [label for _, label in labels]


def test_verdict_excludes_gamma_acoustic_modes():
    qpoints = np.array([[0, 0, 0], [0.5, 0, 0]])
    freqs = np.array([[-30.0, -1.0, 0.5, 100.0], [20.0, 30.0, 40.0, 110.0]])
    verdict = phonons.stability_verdict(qpoints, freqs, tolerance_cm1=10)
    assert verdict.min_frequency_cm1 == 20.0
    assert verdict.dynamically_stable


def test_verdict_flags_imaginary_mode_away_from_gamma():
    qpoints = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
    freqs = np.array([[0.0, 0.0, 0.0, 100.0], [-55.0, 30.0, 40.0, 110.0]])
    verdict = phonons.stability_verdict(qpoints, freqs, tolerance_cm1=10)
    assert verdict.min_frequency_cm1 == -55.0
    assert not verdict.dynamically_stable


def test_verdict_tolerance_and_bad_input():
    qpoints = np.array([[0.25, 0, 0]])
    assert phonons.stability_verdict(qpoints, [[-5.0, 10, 20]], tolerance_cm1=10).dynamically_stable
    assert not phonons.stability_verdict(
        qpoints, [[-5.0, 10, 20]], tolerance_cm1=1
    ).dynamically_stable
    with pytest.raises(ValueError, match="finite"):
        phonons.stability_verdict(qpoints, [[np.nan, 10, 20]])
    with pytest.raises(ValueError, match="tolerance"):
        phonons.stability_verdict(qpoints, [[1.0, 10, 20]], tolerance_cm1=-1)
