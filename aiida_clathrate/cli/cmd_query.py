"""``aiida-clathrate query``: list tagged compounds matching stability, Tc and pressure filters."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from ..study import CATEGORIES as STUDY_CATEGORIES
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
@click.option(
    "--screened",
    is_flag=True,
    help="Screened pairs (clathrate/screening) instead of compounds, highest N(E_F) first.",
)
@click.option(
    "--n-ef-min",
    type=float,
    default=None,
    callback=finite_callback,
    help="With --screened: N(E_F) strictly above this (states/eV per B6C6).",
)
@click.option(
    "--study-category",
    type=click.Choice(STUDY_CATEGORIES),
    default=None,
    help="Compounds whose pair a study put in this category.",
)
@click.option(
    "--thermodynamics",
    is_flag=True,
    help="Thermodynamics runs (clathrate/thermodynamics), lowest synthesis pressure first.",
)
@click.option(
    "--synthesis-pressure-max",
    "synthesis_pressure_max_gpa",
    type=float,
    default=None,
    callback=finite_callback,
    help="With --thermodynamics: synthesis pressure (GPa) at most this.",
)
@decorators.with_dbenv()
def cmd_query(
    only_stable: bool,
    only_unstable: bool,
    tc_min_kelvin: float | None,
    pressure_gpa: float | None,
    mustar: float | None,
    branch: str,
    screened: bool,
    n_ef_min: float | None,
    study_category: str | None,
    thermodynamics: bool,
    synthesis_pressure_max_gpa: float | None,
) -> None:
    """Compounds of the clathrate/compounds group matching ALL the given filters, highest Tc first
    (with --screened: the pairs of the screens, highest N(E_F) first)."""
    from ..query import query_compounds

    if n_ef_min is not None and not screened:
        echo.echo_critical("--n-ef-min filters screened pairs: add --screened")
    if synthesis_pressure_max_gpa is not None and not thermodynamics:
        echo.echo_critical(
            "--synthesis-pressure-max filters thermodynamics runs: add --thermodynamics"
        )
    if thermodynamics:
        if screened:
            echo.echo_critical("--thermodynamics and --screened exclude each other")
        _thermodynamics(synthesis_pressure_max_gpa)
        return
    if screened:
        compound_only = {
            "--stable": only_stable,
            "--unstable": only_unstable,
            "--tc-min": tc_min_kelvin is not None,
            "--mustar": mustar is not None,
            "--study-category": study_category is not None,
        }
        given = [name for name, used in compound_only.items() if used]
        if given:
            echo.echo_critical(f"{', '.join(given)} apply to compounds, not with --screened")
        _screened(n_ef_min, pressure_gpa)
        return
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
            study_category=study_category,
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


def _screened(n_ef_min: float | None, pressure_gpa: float | None) -> None:
    from ..query import query_screened

    rows = query_screened(n_ef_min, pressure_gpa)
    if not rows:
        echo.echo_report("no screened pair matches")
        return
    lines = [f"{'PK':>6}  {'pair':<8} {'n':>5} {'P/GPa':>6} {'N(E_F)':>8}", "-" * 38]
    for row in rows:
        lines.append(
            f"{row['pk']:>6}  {row['pair']:<8} {row['average_valence']:>5.2f} "
            f"{row['pressure_gpa']:>6.1f} {row['n_ef_states_per_ev_b6c6']:>8.3f}"
        )
    echo.echo("\n".join(lines))
    echo.echo(f"{len(rows)} pair(s); N(E_F) in states/eV per B6C6 (both spins)")


def _thermodynamics(synthesis_pressure_max_gpa: float | None) -> None:
    from ..query import query_thermodynamics

    rows = query_thermodynamics(synthesis_pressure_max_gpa)
    if not rows:
        echo.echo_report("no thermodynamics run matches")
        return

    def _pressure(value) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"{'PK':>6}  {'formula':<10} {'P range/GPa':>12} {'ΔH(P0)':>8} {'P_synth':>8} {'P_ΔH<0':>7}",
        "-" * 58,
    ]
    for row in rows:
        pressures = row["pressures_gpa"] or []
        span = f"{min(pressures):g}-{max(pressures):g}" if pressures else "-"
        delta_h = (row["formation_enthalpy_mev_atom"] or [None])[0]
        lines.append(
            f"{row['pk']:>6}  {row['formula']:<10} {span:>12} "
            f"{'-' if delta_h is None else f'{delta_h:.0f}':>8} "
            f"{_pressure(row['synthesis_pressure_gpa']):>8} {_pressure(row['stable_pressure_gpa']):>7}"
        )
    echo.echo("\n".join(lines))
    echo.echo(
        f"{len(rows)} run(s); ΔH(P0) in meV/atom at the lowest pressure; P_synth: T* at the "
        "synthesis temperature (4000 K unless set); '-': not reached in the pressures computed"
    )
