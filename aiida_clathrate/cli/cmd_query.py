"""``aiida-clathrate query``: list tagged compounds matching stability, Tc and pressure filters."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from . import cmd_root
from .params import finite_callback, mustar_value_callback


@cmd_root.command("query")
@click.option("--stable", "only_stable", is_flag=True, help="Only stable compounds.")
@click.option("--unstable", "only_unstable", is_flag=True, help="Only unstable compounds.")
@click.option(
    "--tc-min",
    "tc_min_kelvin",
    type=float,
    default=None,
    callback=finite_callback,
    help="Tc strictly above this (K).",
)
@click.option(
    "--pressure",
    "pressure_gpa",
    type=float,
    default=None,
    callback=finite_callback,
    help="Pressure (GPa, within 1e-3).",
)
@click.option(
    "--mustar",
    type=float,
    default=None,
    callback=mustar_value_callback,
    help="Filter and show Tc at this mu* (default: the largest Tc over the mu* values).",
)
@click.option(
    "--branch",
    type=click.Choice(["anharmonic", "harmonic"]),
    default="anharmonic",
    show_default=True,
    help="Which Tc (phonons) the filter and the Tc column use.",
)
@decorators.with_dbenv()
def cmd_query(
    only_stable: bool,
    only_unstable: bool,
    tc_min_kelvin: float | None,
    pressure_gpa: float | None,
    mustar: float | None,
    branch: str,
) -> None:
    """Compounds of the clathrate/compounds group matching ALL the given filters, highest Tc first."""
    from ..query import query_compounds

    if only_stable and only_unstable:
        echo.echo_critical("--stable and --unstable exclude each other (neither: both kinds)")
    stable = True if only_stable else (False if only_unstable else None)
    try:
        rows = query_compounds(
            stable=stable,
            tc_min_kelvin=tc_min_kelvin,
            pressure_gpa=pressure_gpa,
            mustar=mustar,
            branch=branch,
        )
    except ValueError as exc:
        echo.echo_critical(str(exc))
    if not rows:
        echo.echo_report("no compound matches")
        return
    echo.echo(_table(rows, branch))
    echo.echo(f"{len(rows)} compound(s); Tc: {branch} branch, " + _mustar_note(mustar))


def _table(rows: list[dict], branch: str) -> str:
    from ..query import format_table

    # format_table shows the anharmonic lambda when present: show the branch's own.
    key = f"lambda_{branch}"
    shown = [{**row, "lambda_anharmonic": row.get(key), "lambda_harmonic": None} for row in rows]
    return format_table(shown)


def _mustar_note(mustar: float | None) -> str:
    return "largest over mu*" if mustar is None else f"mu* = {mustar:.2f}"
