"""AiiDA port validators: a bad input fails when the process is built, before anything runs.

Use them as ``spec.input("mustar", valid_type=orm.List, validator=validate_mustar, ...)``; the
plain-Python checks they wrap live beside the kernels (:mod:`aiida_clathrate.eliashberg.mustar`).
"""

from __future__ import annotations

from aiida import orm

from .eliashberg.mustar import DEFAULT_MUSTAR, mustar_error
from .limits import pressure_error


def validate_mustar(value, _ctx=None) -> str | None:
    """Port validator of a ``mustar`` input (an ``orm.List`` of mu* values; None passes).

    Returns the message of :func:`aiida_clathrate.eliashberg.mustar.mustar_error`: an empty list,
    a value that is not a finite number or one outside ``MUSTAR_RANGE`` ([0, 0.5)) fails.
    """
    if value is None:
        return None
    if not isinstance(value, orm.List):
        return f"mustar must be a List of numbers, got {type(value).__name__}"
    return mustar_error(value.get_list())


def mustar_port() -> dict:
    """Keyword arguments of the ``mustar`` input port of every work chain that takes mu*."""
    return {
        "valid_type": orm.List,
        "default": lambda: orm.List(list(DEFAULT_MUSTAR)),
        "validator": validate_mustar,
        "help": "Coulomb pseudopotentials for the Eliashberg equations, each in [0, 0.5).",
    }


def validate_pressure(value, _ctx=None) -> str | None:
    """Port validator of a target pressure (``orm.Float``, GPa; None passes):
    :func:`aiida_clathrate.limits.pressure_error`."""
    return None if value is None else pressure_error(value.value)


def pressure_port(help_text: str, default: float | None = 0.0) -> dict:
    """Keyword arguments of a target-pressure input port (GPa), checked against ``PRESSURE_RANGE_GPA``."""
    port = {"valid_type": orm.Float, "validator": validate_pressure, "help": help_text}
    if default is not None:
        port["default"] = lambda: orm.Float(default)
    else:
        port["required"] = False
    return port


def code_plugin_validator(*plugins: str):
    """Port validator of a ``code`` input: a code whose default CalcJob plugin is set must be one
    of ``plugins`` (a pw.x code given where ph.x belongs fails before anything runs; a code with no
    default plugin passes)."""

    def validate(value, _ctx=None) -> str | None:
        plugin = getattr(value, "default_calc_job_plugin", None)
        if value is None or plugin is None or plugin in plugins:
            return None
        return (
            f"code {value.full_label} runs {plugin}, not {' or '.join(plugins)} "
            "(aiida-clathrate setup makes the right ones)"
        )

    return validate


def set_code_plugins(namespace, path: str, *plugins: str) -> None:
    """Put :func:`code_plugin_validator` on the ``code`` port at ``path`` (dotted) of ``namespace``."""
    port = namespace
    for key in path.split("."):
        port = port[key]
    port.validator = code_plugin_validator(*plugins)
