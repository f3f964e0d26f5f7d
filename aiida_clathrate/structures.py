"""Clathrate prototypes: XB3C3 (Pm-3n) and XYB6C6 (Pm-3), metal valences and pair enumeration.

Plain Python (ASE + numpy); nothing here imports AiiDA.

Geometry (cubic cell of side ``a``, 14 atoms):

* ``XYB6C6``, Pm-3 (No. 200): X at 1a (0,0,0), Y at 1b (1/2,1/2,1/2); B at 6f (x,0,1/2)-type and
  C at 6g (x,1/2,0)-type positions. Each B has two C neighbours at ``d_S = sqrt(2)·x·a`` and two at
  ``d_L = sqrt(2)·(1/2 - x)·a`` (for x_B = x_C = x < 1/4).
* ``XB3C3`` as X2B6C6, Pm-3n (No. 223): X at 2a, B at 6c (1/4,0,1/2), C at 6d (1/4,1/2,0). The B and C
  coordinates are fixed by symmetry, so all B–C bonds are equal.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .limits import lattice_parameter_error, raise_if

#: Formal valence of each guest metal the study uses (electrons donated to the B–C framework).
METAL_VALENCES: dict[str, int] = {
    "Na": 1,
    "K": 1,
    "Rb": 1,
    "Cs": 1,
    "Mg": 2,
    "Ca": 2,
    "Sr": 2,
    "Ba": 2,
    "Sn": 2,
    "Pb": 2,
    "Sc": 3,
    "Y": 3,
    "La": 3,
    "Al": 3,
    "Ga": 3,
    "In": 3,
    "Tl": 3,
}

#: Ionic radii (Å, Shannon, high coordination) used only for the default lattice-parameter estimate.
IONIC_RADII_ANGSTROM: dict[str, float] = {
    "Na": 1.39,
    "K": 1.64,
    "Rb": 1.72,
    "Cs": 1.88,
    "Mg": 0.89,
    "Ca": 1.34,
    "Sr": 1.44,
    "Ba": 1.61,
    "Sn": 1.18,
    "Pb": 1.49,
    "Sc": 0.87,
    "Y": 1.08,
    "La": 1.36,
    "Al": 0.54,
    "Ga": 0.62,
    "In": 0.92,
    "Tl": 0.98,
}

#: Framework elements; never valid as guests.
FRAMEWORK_ELEMENTS = ("B", "C")

# a ≈ A0 + SLOPE · <r_ion>: a rough start for the variable-cell relaxation, not a prediction.
# Tuned so that SrB3C3 (r = 1.44 Å) gives 4.86 Å and KRbB6C6 4.90 Å.
_LATTICE_A0_ANGSTROM = 4.60
_LATTICE_SLOPE = 0.18

# Wyckoff positions in units of the lattice parameter, as functions of the free coordinate x.
_SITE_6F = ((1, 0, 0.5), (-1, 0, 0.5), (0.5, 1, 0), (0.5, -1, 0), (0, 0.5, 1), (0, 0.5, -1))
_SITE_6G = ((1, 0.5, 0), (-1, 0.5, 0), (0, 1, 0.5), (0, -1, 0.5), (0.5, 0, 1), (0.5, 0, -1))


@dataclass(frozen=True)
class BondLengths:
    """The two B–C bond lengths of the framework (Å): long ``d_long`` and short ``d_short``."""

    d_long_angstrom: float
    d_short_angstrom: float


def _check_guest(element: str) -> str:
    if not isinstance(element, str) or not element:
        raise ValueError(f"guest element must be a chemical symbol, got {element!r}")
    symbol = element.strip().capitalize()
    if symbol in FRAMEWORK_ELEMENTS:
        raise ValueError(f"{element!r} is a framework element (B or C), not a metal guest")
    if symbol not in METAL_VALENCES:
        known = ", ".join(sorted(METAL_VALENCES))
        raise ValueError(f"unknown or non-metal guest element {element!r}; known metals: {known}")
    return symbol


def valence(element: str) -> int:
    """Formal valence of a guest metal (e.g. +1 for K, +2 for Pb, +3 for La)."""
    return METAL_VALENCES[_check_guest(element)]


def average_valence(x: str, y: str | None = None) -> float:
    """Average metal valence n = (m + l)/2 of the pair; for XB3C3 (``y`` None or equal to ``x``) n = m."""
    m = valence(x)
    l_ = valence(y) if y is not None else m
    return 0.5 * (m + l_)


def default_lattice_parameter(x: str, y: str | None = None) -> float:
    """A rough lattice parameter (Å) from the guests' ionic radii; a starting point for relaxation."""
    gx = _check_guest(x)
    gy = _check_guest(y) if y is not None else gx
    radius = 0.5 * (IONIC_RADII_ANGSTROM[gx] + IONIC_RADII_ANGSTROM[gy])
    return round(_LATTICE_A0_ANGSTROM + _LATTICE_SLOPE * radius, 3)


def _check_lattice_parameter(a: float) -> float:
    raise_if(lattice_parameter_error(a))
    return float(a)


def _check_internal(name: str, x: float) -> float:
    value = float(x)
    if not np.isfinite(value) or not 0.0 < value < 0.5:
        raise ValueError(f"{name} must lie strictly between 0 and 0.5, got {x!r}")
    return value


def _wyckoff(sites: Sequence[tuple[float, float, float]], x: float) -> np.ndarray:
    """Fractional coordinates of a 6f/6g orbit: entries ±1 stand for ±x, the rest are constants."""
    frac = []
    for site in sites:
        frac.append([x * s if abs(s) == 1 else s for s in site])
    return np.mod(np.array(frac, dtype=float), 1.0)


def xyb6c6(
    x: str,
    y: str,
    lattice_parameter_angstrom: float | None = None,
    x_boron: float = 0.25,
    x_carbon: float = 0.25,
) -> Atoms:
    """The ordered XYB6C6 clathrate (Pm-3, 14 atoms): X at 1a, Y at 1b, B at 6f, C at 6g.

    :param x: guest at the cell corner (1a).
    :param y: guest at the body centre (1b).
    :param lattice_parameter_angstrom: cubic lattice parameter; default from :func:`default_lattice_parameter`.
    :param x_boron: free coordinate of B at (x, 0, 1/2); 1/4 makes all B–C bonds equal.
    :param x_carbon: free coordinate of C at (x, 1/2, 0).
    """
    gx, gy = _check_guest(x), _check_guest(y)
    a = (
        default_lattice_parameter(gx, gy)
        if lattice_parameter_angstrom is None
        else _check_lattice_parameter(lattice_parameter_angstrom)
    )
    xb = _check_internal("x_boron", x_boron)
    xc = _check_internal("x_carbon", x_carbon)
    frac = np.vstack(
        [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], _wyckoff(_SITE_6F, xb), _wyckoff(_SITE_6G, xc)]
    )
    symbols = [gx, gy] + ["B"] * 6 + ["C"] * 6
    return Atoms(symbols=symbols, scaled_positions=frac, cell=np.eye(3) * a, pbc=True)


def xb3c3(x: str, lattice_parameter_angstrom: float | None = None) -> Atoms:
    """The single-guest XB3C3 clathrate as X2B6C6 (Pm-3n, 14 atoms): X at 2a, B at 6c, C at 6d."""
    gx = _check_guest(x)
    a = (
        default_lattice_parameter(gx)
        if lattice_parameter_angstrom is None
        else _check_lattice_parameter(lattice_parameter_angstrom)
    )
    atoms = xyb6c6(gx, gx, a, 0.25, 0.25)
    return atoms


def clathrate(
    x: str,
    y: str | None = None,
    lattice_parameter_angstrom: float | None = None,
    x_boron: float | None = None,
    x_carbon: float | None = None,
) -> Atoms:
    """Build XB3C3 (``y`` None or equal to ``x``) or XYB6C6 for any metal pair.

    For XB3C3 the B and C coordinates are fixed by Pm-3n symmetry; passing ``x_boron``/``x_carbon``
    other than 1/4 for it is an error (use :func:`xyb6c6` with ``y == x`` for a distorted cell).
    """
    gx = _check_guest(x)
    gy = _check_guest(y) if y is not None else gx
    if gx == gy:
        for name, value in (("x_boron", x_boron), ("x_carbon", x_carbon)):
            if value is not None and not np.isclose(float(value), 0.25):
                raise ValueError(
                    f"{name}={value!r}: XB3C3 (Pm-3n) fixes B and C at x = 1/4; use xyb6c6() for other values"
                )
        return xb3c3(gx, lattice_parameter_angstrom)
    return xyb6c6(
        gx,
        gy,
        lattice_parameter_angstrom,
        0.25 if x_boron is None else x_boron,
        0.25 if x_carbon is None else x_carbon,
    )


def formula(x: str, y: str | None = None) -> str:
    """The compound name the study uses: ``SrB3C3`` or ``KRbB6C6``."""
    gx = _check_guest(x)
    gy = _check_guest(y) if y is not None else gx
    return f"{gx}B3C3" if gx == gy else f"{gx}{gy}B6C6"


def boron_carbon_bond_lengths(atoms: Atoms, tolerance_angstrom: float = 0.05) -> BondLengths:
    """Long and short B–C bond lengths: for each B, the four nearest C neighbours (minimum image)."""
    symbols = np.array(atoms.get_chemical_symbols())
    boron = np.flatnonzero(symbols == "B")
    carbon = np.flatnonzero(symbols == "C")
    if len(boron) == 0 or len(carbon) == 0:
        raise ValueError("structure has no B–C framework")
    distances = atoms.get_distances
    bonds: list[float] = []
    for b in boron:
        d = np.sort(distances(b, carbon, mic=True))
        bonds.extend(d[:4])
    bonds_array = np.array(bonds)
    return BondLengths(float(bonds_array.max()), float(bonds_array.min()))


def enumerate_pairs(
    metals: Iterable[str] | None = None, include_single_guest: bool = True
) -> list[tuple[str, str]]:
    """Unordered guest pairs (X, Y), the lower triangle of the study's heat map.

    Metals are ordered by valence, then by the order given (default: :data:`METAL_VALENCES`).
    ``include_single_guest`` adds the diagonal X = Y (the XB3C3 compounds).
    """
    symbols = [_check_guest(m) for m in (metals if metals is not None else METAL_VALENCES)]
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"duplicate metals in {symbols}")
    ordered = sorted(symbols, key=lambda s: (METAL_VALENCES[s], symbols.index(s)))
    pairs = list(itertools.combinations(ordered, 2))
    if include_single_guest:
        pairs = [(m, m) for m in ordered] + pairs
    return pairs
