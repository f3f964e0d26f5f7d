"""The thermodynamics kernel: reference phases, enthalpy, entropy and T* against hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import spglib

from aiida_clathrate import thermodynamics as thermo
from aiida_clathrate.structures import clathrate

KB_EV_PER_K = 8.617333262e-5


def _space_group(atoms) -> int:
    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    return spglib.get_symmetry_dataset(cell, symprec=1e-3).number


@pytest.mark.parametrize(
    ("element", "phase", "n_atoms", "space_group"),
    [
        ("B", "alpha_B12", 12, 166),
        ("C", "diamond", 2, 227),
        ("C", "graphite", 4, 194),
        ("K", "bcc", 1, 229),
        ("Sr", "fcc", 1, 225),
        ("Ca", "sc", 1, 221),
        ("Ba", "hcp", 2, 194),
        ("Sn", "beta_Sn", 2, 141),
        ("In", "bct_In", 1, 139),
        ("Ga", "alpha_Ga", 4, 64),
    ],
)
def test_reference_phases_have_their_space_group_and_size(element, phase, n_atoms, space_group):
    atoms = thermo.reference_phase(element, phase)
    assert len(atoms) == n_atoms
    assert set(atoms.get_chemical_symbols()) == {element}
    assert _space_group(atoms) == space_group


def test_every_guest_and_framework_element_has_buildable_phases_with_sane_bonds():
    for element in thermo.known_elements():
        for phase in thermo.phases_of(element):
            atoms = thermo.reference_phase(element, phase, 20.0)
            if len(atoms) > 1:
                distances = atoms.get_all_distances(mic=True)
                shortest = distances[distances > 0].min()
                assert 1.2 < shortest < 5.0, (element, phase, shortest)


def test_start_volume_shrinks_with_pressure_as_murnaghan_says():
    v0 = thermo.start_volume_angstrom3("K", 0.0)
    # Murnaghan with B' = 4 and B0 = 3.1 GPa: V/V0 = (1 + 4 P / B0)^(-1/4)
    assert thermo.start_volume_angstrom3("K", 31.0) == pytest.approx(v0 * 41.0**-0.25)
    assert thermo.start_volume_angstrom3("C", 0.0, "graphite") == pytest.approx(8.8)


def test_unknown_elements_and_phases_are_refused_by_name():
    with pytest.raises(ValueError, match="no reference phases for element 'Xx'"):
        thermo.phases_of("Xx")
    with pytest.raises(ValueError, match="'hcp' is not a reference phase of K"):
        thermo.reference_phase("K", "hcp")


def test_enthalpy_adds_pressure_times_volume_in_ev():
    # 1 GPa × 160.2176634 Å³ = 1 eV
    assert thermo.enthalpy_ev(-10.0, 160.2176634, 1.0) == pytest.approx(-9.0, abs=1e-6)
    assert thermo.enthalpy_ev(-10.0, 50.0, 0.0) == -10.0


def test_references_take_the_lowest_phase_and_formation_enthalpy_subtracts_them():
    references = thermo.element_references(
        {"K": {"bcc": -1.0, "fcc": -1.2}, "B": {"alpha_B12": -5.0}, "C": {"diamond": -8.0}}
    )
    assert references == {"K": ("fcc", -1.2), "B": ("alpha_B12", -5.0), "C": ("diamond", -8.0)}
    composition = {"K": 2, "B": 6, "C": 6}
    elemental = 2 * -1.2 + 6 * -5.0 + 6 * -8.0  # -80.4 eV
    delta = thermo.formation_enthalpy_ev_per_atom(
        elemental + 1.4, composition, {e: h for e, (_, h) in references.items()}
    )
    assert delta == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"no elemental reference for \['C'\]"):
        thermo.formation_enthalpy_ev_per_atom(0.0, composition, {"K": 0.0, "B": 0.0})


def test_configurational_entropy_of_each_model_by_hand():
    ln2 = math.log(2.0)
    krb = clathrate("K", "Rb").get_chemical_symbols()
    rb = clathrate("Rb").get_chemical_symbols()
    # XYB6C6: two guest sites half X half Y, twelve framework sites half B half C, 14 atoms
    assert thermo.configurational_entropy_kb_per_atom(krb) == pytest.approx(ln2)
    assert thermo.configurational_entropy_kb_per_atom(krb, "guests") == pytest.approx(2 * ln2 / 14)
    assert thermo.configurational_entropy_kb_per_atom(krb, "framework") == pytest.approx(
        12 * ln2 / 14
    )
    # XB3C3: one kind of guest, nothing to mix there
    assert thermo.configurational_entropy_kb_per_atom(rb, "guests") == 0.0
    assert thermo.configurational_entropy_kb_per_atom(rb) == pytest.approx(12 * ln2 / 14)
    with pytest.raises(ValueError, match="unknown entropy model 'regular'"):
        thermo.configurational_entropy_kb_per_atom(krb, "regular")


def test_synthesis_temperature_is_enthalpy_over_entropy():
    # ΔH = 0.2 eV/atom, S = ln 2 k_B/atom: T* = 0.2 / (ln 2 · 8.617e-5) = 3348.3 K
    t_star = thermo.synthesis_temperature_k(0.2, math.log(2.0))
    assert t_star == pytest.approx(0.2 / (math.log(2.0) * KB_EV_PER_K))
    assert t_star == pytest.approx(3348.3, abs=0.1)
    assert thermo.synthesis_temperature_k(-0.05, 0.5) == 0.0
    assert thermo.synthesis_temperature_k(0.05, 0.0) is None


def test_synthesis_window_interpolates_the_pressure_at_the_temperature_line():
    s = math.log(2.0)
    pressures = [0.0, 10.0, 20.0, 30.0]
    # T* at these ΔH: 0.40 -> 6697 K, 0.30 -> 5022 K, 0.20 -> 3348 K, -0.01 -> 0 K
    window = thermo.synthesis_window(pressures, [0.40, 0.30, 0.20, -0.01], s, 4000.0)
    t = window["synthesis_temperature_k"]
    expected_p = 10.0 + (4000.0 - t[1]) / (t[2] - t[1]) * 10.0
    assert window["synthesis_pressure_gpa"] == pytest.approx(expected_p)
    assert 10.0 < window["synthesis_pressure_gpa"] < 20.0
    # ΔH crosses zero between 20 and 30 GPa: 20 + 0.20 / 0.21 × 10
    assert window["stable_pressure_gpa"] == pytest.approx(20.0 + 10.0 * 0.20 / 0.21)
    never = thermo.synthesis_window(pressures, [0.5, 0.5, 0.5, 0.5], s, 4000.0)
    assert never["synthesis_pressure_gpa"] is None and never["stable_pressure_gpa"] is None


def test_no_entropy_means_no_finite_temperature_until_the_enthalpy_turns_negative():
    window = thermo.synthesis_window([0.0, 10.0, 20.0], [0.1, 0.05, -0.05], 0.0, 4000.0)
    assert window["synthesis_temperature_k"] == [None, None, 0.0]
    # no interpolation across an infinite T*: the first pressure that reaches it
    assert window["synthesis_pressure_gpa"] == 20.0
    assert window["stable_pressure_gpa"] == pytest.approx(15.0)
    assert np.isfinite(window["temperature_max_k"])


def test_a_pressure_scan_must_be_non_empty_in_range_and_without_repeats():
    from aiida_clathrate.limits import pressures_error

    assert pressures_error("p", [0.0, 10.0]) is None
    assert pressures_error("p", []) == "p is empty"
    assert "pressure must be a finite number" in pressures_error("p", [0.0, -1.0])
    assert pressures_error("p", [5.0, 5.0]) == "p has repeats: [5.0, 5.0]"
