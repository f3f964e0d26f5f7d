"""The screening kernel (no AiiDA): N(E_F) in a window, the framework share, the DOS peaks
around E_F and the ranking above the reference pair."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_clathrate.screening import (
    dos_peaks_around,
    fermi_level_dos,
    pair_label,
    rank_above_reference,
    screening_row,
    window_average,
)

ENERGIES = np.linspace(-5.0, 5.0, 1001)  # 0.01 eV steps


def _gaussian(centre, width=0.2, height=1.0):
    return height * np.exp(-0.5 * ((ENERGIES - centre) / width) ** 2)


def test_window_average_of_a_line_is_its_value_at_the_centre():
    assert window_average(ENERGIES, 2.0 + 3.0 * ENERGIES, 0.123, 0.05) == pytest.approx(2.369)
    with pytest.raises(ValueError, match="leaves the DOS grid"):
        window_average(ENERGIES, ENERGIES, 4.99, 0.05)
    with pytest.raises(ValueError, match="increase"):
        window_average(ENERGIES[::-1], ENERGIES, 0.0, 0.05)
    with pytest.raises(ValueError, match="positive"):
        window_average(ENERGIES, ENERGIES, 0.0, 0.0)


def test_peaks_below_and_above_the_fermi_level():
    dos = _gaussian(-0.8) + _gaussian(0.5, height=2.0) + _gaussian(2.0)
    below, above = dos_peaks_around(ENERGIES, dos, fermi_energy_ev=0.1)
    assert below == pytest.approx(-0.9, abs=0.02)
    assert above == pytest.approx(0.4, abs=0.02)
    # E_F on the peak: the peak is "below" (<= 0), the next one above
    below, above = dos_peaks_around(ENERGIES, dos, fermi_energy_ev=0.5)
    assert below == pytest.approx(0.0, abs=0.02) and above == pytest.approx(1.5, abs=0.02)


def test_fermi_level_dos_and_framework_share():
    framework = _gaussian(0.0, width=0.5, height=3.0)
    guests = _gaussian(0.0, width=0.5, height=1.0)
    total = framework + guests + 0.1
    result = fermi_level_dos(ENERGIES, total, 0.0, framework, framework + guests)
    assert result.n_ef_states_per_ev_b6c6 == pytest.approx(4.1, rel=2e-3)
    assert result.framework_share == pytest.approx(0.75, rel=1e-6)
    assert fermi_level_dos(ENERGIES, total, 0.0).framework_share is None


def test_ranking_above_the_reference_pair():
    rows = [
        {"x": "K", "y": "Pb", "n_ef_states_per_ev_b6c6": 2.0},
        {"x": "K", "y": "Rb", "n_ef_states_per_ev_b6c6": 2.5},
        {"x": "Sr", "y": "Sr", "n_ef_states_per_ev_b6c6": 1.0},
        {"x": "Cs", "y": "Ba", "n_ef_states_per_ev_b6c6": 2.2},
    ]
    ranked, level = rank_above_reference(rows)
    assert level == 2.0 and [r["y"] for r in ranked] == ["Rb", "Ba"]
    ranked, level = rank_above_reference(rows, ("Na", "Pb"))  # not screened: every pair ranked
    assert level is None and len(ranked) == 4 and ranked[0]["y"] == "Rb"
    assert pair_label("Sr", "Sr") == "Sr" and pair_label("K", "Pb") == "KPb"


def test_screening_row_has_the_valence_and_the_fields_of_the_table():
    result = fermi_level_dos(ENERGIES, _gaussian(0.0) + 0.5, 0.0)
    row = screening_row("K", "Pb", 4.8, result)
    assert row["average_valence"] == 1.5 and row["pair"] == "KPb"
    assert screening_row("Sr", "Sr", 4.9, result)["average_valence"] == 2.0
    assert set(row) >= {"n_ef_states_per_ev_b6c6", "framework_share", "peak_below_ev"}


def test_format_ranking_and_pair_labels():
    from aiida_clathrate.screening import format_ranking, split_pair

    rows = [
        {
            "pair": "KPb",
            "average_valence": 1.5,
            "lattice_parameter_angstrom": 4.8,
            "n_ef_states_per_ev_b6c6": 2.0,
            "framework_share": 0.9,
        },
        {
            "pair": "KRb",
            "average_valence": 1.0,
            "lattice_parameter_angstrom": 4.9,
            "n_ef_states_per_ev_b6c6": 3.7,
            "framework_share": None,
        },
    ]
    ranking = {"reference_pair": "KPb", "reference_n_ef_states_per_ev_b6c6": 2.0, "pairs": ["KRb"]}
    text = format_ranking({"rows": rows}, ranking)
    assert text.splitlines()[1].startswith("KRb") and "1 pair(s) above KPb (2.000): KRb" in text
    assert split_pair("KPb") == ("K", "Pb") and split_pair("Sr") == ("Sr", None)
    with pytest.raises(ValueError):
        split_pair("KPbRb")
