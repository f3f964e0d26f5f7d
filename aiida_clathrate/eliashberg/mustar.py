"""The one default and the one allowed range of the Coulomb pseudopotential mu* (no AiiDA import).

Every place that takes mu* (the Eliashberg kernel, the ``clathrate.eliashberg`` calcfunction, the
work chains' ``mustar`` input, the CLI, the query extras) takes its default and checks its values
here, so that a bad value fails before anything runs.

The allowed range is the half-open interval [0, 0.5) (:data:`MUSTAR_RANGE`):

* mu* < 0 would be an attractive Coulomb interaction, which the pseudopotential is not;
* the Morel-Anderson pseudopotential mu* = mu / (1 + mu ln(E_F / omega_c)) is below
  1 / ln(E_F / omega_c) for any mu, hence below 0.5 whenever E_F / omega_c > e^2 ~ 7.4, which holds
  for phonon-mediated superconductors (fitted values are 0.1-0.2);
* from mu* = 0.5 up the McMillan / Allen-Dynes denominator lambda - mu* (1 + 0.62 lambda) is
  negative for every lambda < 0.72, so the closed-form Tc are meaningless there.

A value of 0.5 or more is therefore a typing mistake (0.7 for 0.07), caught before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: The mu* values computed when none are given (the study's 0.10, 0.13, 0.15).
DEFAULT_MUSTAR: tuple[float, ...] = (0.10, 0.13, 0.15)

#: The allowed range of mu*: ``MUSTAR_RANGE[0] <= mu* < MUSTAR_RANGE[1]`` (half-open).
MUSTAR_RANGE: tuple[float, float] = (0.0, 0.5)

_RANGE_TEXT = f"[{MUSTAR_RANGE[0]:g}, {MUSTAR_RANGE[1]:g})"


def mustar_value_error(value) -> str | None:
    """Why one mu* value is not allowed, or None when it is (a number in :data:`MUSTAR_RANGE`)."""
    if isinstance(value, (bool, str, bytes)):
        return f"mu* must be a number in {_RANGE_TEXT}, got {value!r}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"mu* must be a number in {_RANGE_TEXT}, got {value!r}"
    if not math.isfinite(number):
        return f"mu* must lie in {_RANGE_TEXT}, got {number!r} (not a finite number)"
    low, high = MUSTAR_RANGE
    if not low <= number < high:
        return f"mu* must lie in {_RANGE_TEXT}, got {number:g}"
    return None


def check_mustar_value(value) -> float:
    """One mu* as float, or ``ValueError`` with the message of :func:`mustar_value_error`."""
    message = mustar_value_error(value)
    if message is not None:
        raise ValueError(message)
    return float(value)


def mustar_error(values) -> str | None:
    """Why a list of mu* values is not allowed, or None when it is.

    Fails for a value that is not a list (or tuple), an empty list and any value that is not a
    finite number in :data:`MUSTAR_RANGE`; the message names the first bad value and its index.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return f"mu* must be a list of numbers, got {values!r}"
    values = list(values)
    if not values:
        return f"at least one mu* is needed (each in {_RANGE_TEXT})"
    for index, value in enumerate(values):
        message = mustar_value_error(value)
        if message is not None:
            return f"{message} (value {index} of {values!r})" if len(values) > 1 else message
    return None


def check_mustar(values) -> list[float]:
    """The mu* values as a list of floats, or ``ValueError`` with the message of :func:`mustar_error`."""
    message = mustar_error(values)
    if message is not None:
        raise ValueError(message)
    return [float(value) for value in values]
