"""Bounds of the inputs a user sets, one place for each (no AiiDA import).

The builders, the work chains' port validators and the command line all check against these, so a
bad value fails before anything runs or is stored. Each ``*_error`` returns a message or ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Target pressures (GPa). The study spans 0-50 GPa; beyond 300 GPa the shipped pseudopotentials
#: and cutoffs are not meant to hold, and below 0 a variable-cell relaxation of this framework
#: expands without bound (-50 GPa grew the cell 800-fold).
PRESSURE_RANGE_GPA = (0.0, 300.0)
#: Cubic lattice parameters (Å) of XB3C3 / XYB6C6 starting structures: the known compounds lie
#: between 4.4 and 5.2 Å; outside these bounds the B-C framework is not bonded or overlaps.
LATTICE_PARAMETER_RANGE_ANGSTROM = (3.5, 7.0)


def _finite_number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pressure_error(pressure_gpa) -> str | None:
    """Why ``pressure_gpa`` is not a target pressure the protocols can take, or None."""
    low, high = PRESSURE_RANGE_GPA
    number = _finite_number(pressure_gpa)
    if number is None or not low <= number <= high:
        return f"pressure must be a finite number in [{low:g}, {high:g}] GPa, got {pressure_gpa!r}"
    return None


def pressures_error(name: str, pressures_gpa: Sequence) -> str | None:
    """Why a list of pressures (a scan) is not usable: empty, a pressure out of range, or a
    repeat; or None."""
    if not pressures_gpa:
        return f"{name} is empty"
    for pressure in pressures_gpa:
        error = pressure_error(pressure)
        if error:
            return error
    if len(set(pressures_gpa)) != len(pressures_gpa):
        return f"{name} has repeats: {list(pressures_gpa)}"
    return None


def lattice_parameter_error(lattice_parameter_angstrom) -> str | None:
    """Why a starting lattice parameter is unreasonable for the clathrate, or None."""
    low, high = LATTICE_PARAMETER_RANGE_ANGSTROM
    number = _finite_number(lattice_parameter_angstrom)
    if number is None or not low <= number <= high:
        return (
            f"lattice parameter must be a finite number in [{low:g}, {high:g}] Å, "
            f"got {lattice_parameter_angstrom!r}"
        )
    return None


def mesh_error(name: str, mesh) -> str | None:
    """Why ``mesh`` is not three positive integers, or None."""
    if isinstance(mesh, (str, bytes)) or not isinstance(mesh, Sequence) or len(mesh) != 3:
        return f"{name} must be three positive integers, got {mesh!r}"
    for n in mesh:
        if isinstance(n, bool) or not float(n).is_integer() or int(n) < 1:
            return f"{name} must be three positive integers, got {list(mesh)!r}"
    return None


def positive_integer_error(name: str, value) -> str | None:
    """Why ``value`` is not an integer of at least 1, or None (1.5 and True are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{name} must be an integer of at least 1, got {value!r}"
    return None


def raise_if(error: str | None) -> None:
    """``ValueError(error)`` when there is one."""
    if error is not None:
        raise ValueError(error)
