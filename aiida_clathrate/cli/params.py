"""Click callbacks shared by the commands: a bad value is a usage error before anything runs."""

from __future__ import annotations

import math
import pathlib

import click

from ..eliashberg.mustar import mustar_error, mustar_value_error
from ..limits import lattice_parameter_error, pressure_error, pressures_error

#: ``--num-mpiprocs``: at least one process.
NUM_MPIPROCS = click.IntRange(min=1)


def output_dir_option(what: str):
    """``--output-dir`` (default the current folder) for the files a command writes."""
    return click.option(
        "--output-dir",
        type=click.Path(file_okay=False, path_type=pathlib.Path),
        default=pathlib.Path("."),
        show_default=True,
        help=f"Folder for {what} (created if missing).",
    )


def mustar_list_callback(ctx: click.Context, param: click.Parameter, value):
    """``--mustar`` taking several values: check them all (an empty tuple is left to the command)."""
    if value is None or len(value) == 0:
        return value
    message = mustar_error(list(value))
    if message is not None:
        raise click.BadParameter(message, ctx=ctx, param=param)
    return tuple(float(m) for m in value)


def mustar_value_callback(ctx: click.Context, param: click.Parameter, value):
    """``--mustar`` taking one optional value: check it when given."""
    if value is None:
        return value
    message = mustar_value_error(value)
    if message is not None:
        raise click.BadParameter(message, ctx=ctx, param=param)
    return float(value)


def _checked(error_function):
    def callback(ctx: click.Context, param: click.Parameter, value):
        if value is None:
            return value
        message = error_function(value)
        if message is not None:
            raise click.BadParameter(message, ctx=ctx, param=param)
        return value

    return callback


def _finite_error(value) -> str | None:
    return None if math.isfinite(float(value)) else f"must be a finite number, got {value!r}"


#: A number option that must be finite (nan and inf are refused).
finite_callback = _checked(_finite_error)
#: ``--pressure`` (GPa) within :data:`aiida_clathrate.limits.PRESSURE_RANGE_GPA`.
pressure_callback = _checked(pressure_error)
#: ``--lattice-parameter`` (Å) within :data:`aiida_clathrate.limits.LATTICE_PARAMETER_RANGE_ANGSTROM`.
lattice_parameter_callback = _checked(lattice_parameter_error)


#: The options every ``launch`` command shares, one definition each.
pressure_option = click.option(
    "--pressure",
    "pressure_gpa",
    type=float,
    default=0.0,
    show_default=True,
    callback=pressure_callback,
    help="GPa.",
)
lattice_parameter_option = click.option(
    "--lattice-parameter",
    type=float,
    default=None,
    callback=lattice_parameter_callback,
    help="Å; default: estimate from the guests.",
)
num_mpiprocs_option = click.option(
    "--num-mpiprocs",
    type=NUM_MPIPROCS,
    default=1,
    show_default=True,
    help="MPI processes per calculation (shared by the jobs that run together on this machine).",
)


computer_option = click.option(
    "--computer",
    default="localhost",
    show_default=True,
    help="AiiDA computer whose codes run the jobs (pw@COMPUTER, ph@..., clathrate-sscha@...). "
    "localhost is set up on the fly; any other must exist with its codes (docs/howto/cluster.md).",
)


def metals_and_pressures(
    arguments: tuple[str, ...], pressure_options: tuple[float, ...]
) -> tuple[list[str], list[float]]:
    """Split ``X Y --pressures 0 10 20``: click gives ``--pressures`` its first value and leaves
    the rest among the positional METALS; element symbols are never numbers, so the numbers among
    them are the remaining pressures. ``click.UsageError`` for numbers without ``--pressures``,
    a pressure outside the checked range or a repeated pressure."""
    metals, extra = [], []
    for token in arguments:
        try:
            extra.append(float(token))
        except ValueError:
            metals.append(token)
    if extra and not pressure_options:
        raise click.UsageError(f"numbers among the metals: {extra}; pressures go after --pressures")
    pressures = [float(p) for p in pressure_options] + extra
    error = pressures_error("--pressures", pressures) if pressures else None
    if error:
        raise click.UsageError(error)
    return metals, pressures
