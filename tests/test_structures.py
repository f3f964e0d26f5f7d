"""Clathrate prototypes: symmetry, bond lengths, valences, pair enumeration, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import spglib

from aiida_clathrate import structures


def _space_group_number(atoms) -> int:
    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.get_atomic_numbers())
    return spglib.get_symmetry_dataset(cell, symprec=1e-4).number


@pytest.mark.parametrize("guest", ["Sr", "Rb", "La"])
def test_xb3c3_is_pm3n(guest):
    atoms = structures.clathrate(guest)
    assert len(atoms) == 14
    assert _space_group_number(atoms) == 223
    assert atoms.get_chemical_formula(mode="metal") == f"{guest}2B6C6"


@pytest.mark.parametrize(("x", "y"), [("K", "Rb"), ("K", "Pb"), ("Cs", "Ba")])
def test_xyb6c6_is_pm3(x, y):
    atoms = structures.clathrate(x, y, x_boron=0.2487, x_carbon=0.2515)
    assert len(atoms) == 14
    assert _space_group_number(atoms) == 200


def test_xyb6c6_matches_reference_dataset_geometry():
    """The shared KRbB6C6 data set puts B at (x,0,1/2) and C at (x,1/2,0): same sites as ours."""
    atoms = structures.xyb6c6("K", "Rb", 4.8, x_boron=0.2487, x_carbon=0.2515)
    frac = atoms.get_scaled_positions()
    assert np.allclose(frac[2], [0.2487, 0.0, 0.5])
    assert np.allclose(frac[8], [0.2515, 0.5, 0.0])


def test_xb3c3_bonds_equal():
    atoms = structures.clathrate("Sr", lattice_parameter_angstrom=4.87)
    bonds = structures.boron_carbon_bond_lengths(atoms)
    assert bonds.d_long_angstrom == pytest.approx(bonds.d_short_angstrom, abs=1e-10)
    assert bonds.d_short_angstrom == pytest.approx(np.sqrt(2) * 0.25 * 4.87)


def test_xyb6c6_bonds_split_when_x_off_quarter():
    a, x = 4.9, 0.24
    atoms = structures.xyb6c6("K", "Pb", a, x_boron=x, x_carbon=x)
    bonds = structures.boron_carbon_bond_lengths(atoms)
    assert bonds.d_short_angstrom == pytest.approx(np.sqrt(2) * x * a)
    assert bonds.d_long_angstrom == pytest.approx(np.sqrt(2) * (0.5 - x) * a)
    assert bonds.d_long_angstrom > bonds.d_short_angstrom + 0.1


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [("K", "Rb", 1.0), ("K", "Pb", 1.5), ("Sr", None, 2.0), ("Ba", "La", 2.5), ("Na", "Y", 2.0)],
)
def test_average_valence(x, y, expected):
    assert structures.average_valence(x, y) == expected


def test_enumerate_pairs_lower_triangle():
    metals = ["K", "Rb", "Pb"]
    pairs = structures.enumerate_pairs(metals)
    assert len(pairs) == 3 + 3
    assert ("K", "Rb") in pairs and ("Rb", "K") not in pairs
    assert ("K", "K") in pairs
    all_pairs = structures.enumerate_pairs(include_single_guest=False)
    n = len(structures.METAL_VALENCES)
    assert len(all_pairs) == n * (n - 1) // 2
    assert len(set(frozenset(p) for p in all_pairs)) == len(all_pairs)


def test_default_lattice_parameter_is_plausible():
    assert 4.7 < structures.default_lattice_parameter("Sr") < 5.0
    assert structures.default_lattice_parameter("K", "Rb") == pytest.approx(4.90, abs=0.01)
    atoms = structures.clathrate("K", "Rb")
    assert atoms.cell[0, 0] == pytest.approx(structures.default_lattice_parameter("K", "Rb"))


def test_formula():
    assert structures.formula("Sr") == "SrB3C3"
    assert structures.formula("K", "Rb") == "KRbB6C6"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": "Xx"}, "'Xx'"),
        ({"x": "K", "y": "H"}, "'H'"),
        ({"x": "B"}, "framework"),
        ({"x": "K", "lattice_parameter_angstrom": 0.0}, "0.0"),
        ({"x": "K", "lattice_parameter_angstrom": -4.8}, "-4.8"),
        ({"x": "K", "y": "Rb", "x_boron": 0.7}, "x_boron"),
        ({"x": "Sr", "x_boron": 0.24}, "x_boron"),
    ],
)
def test_bad_input_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        structures.clathrate(**kwargs)


def test_enumerate_pairs_rejects_bad_metal():
    with pytest.raises(ValueError, match="'O'"):
        structures.enumerate_pairs(["K", "O"])
