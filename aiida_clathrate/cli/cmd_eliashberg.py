"""``aiida-clathrate eliashberg FILE --mustar 0.10 0.13 0.15``: Tc and gap from an alpha^2F file."""

from __future__ import annotations

import click
from aiida.cmdline.params.options.multivalue import MultipleValueOption

from aiida_clathrate.cli import cmd_root
from aiida_clathrate.eliashberg import (
    KB_MEV_PER_KELVIN,
    EliashbergSettings,
    read_alpha2f,
    run_eliashberg,
)
from aiida_clathrate.eliashberg.mustar import DEFAULT_MUSTAR, MUSTAR_RANGE
from aiida_clathrate.eliashberg.readers import detect_format

from .params import mustar_list_callback


def format_table(summary, header: str) -> str:
    """The results table printed by the command."""
    lines = [
        header,
        f"lambda = {summary.lambda_:.4f}   omega_log = {summary.omega_log_mev:.3f} meV "
        f"({summary.omega_log_mev / KB_MEV_PER_KELVIN:.1f} K)   omega_2 = {summary.omega_2_mev:.3f} meV"
        f"   omega_c = {summary.omega_cutoff_mev:.1f} meV   mu*: {summary.mustar_convention}",
        f"{'mu*':>6} {'Tc_Eliashberg_K':>16} {'Tc_AllenDynes_K':>16} {'Tc_McMillan_K':>14} "
        f"{'Delta0_meV':>11} {'2Delta0/kTc':>12}",
    ]
    floor = summary.settings.min_temperature_kelvin
    for r in summary.results:
        tc = r.tc_eliashberg_kelvin
        tc_text = f"{tc:16.2f}" if tc > 0 else f"{'< ' + format(floor, '.2f'):>16}"
        if r.delta_0_mev > 0:
            gap_text = f"{r.delta_0_mev:11.3f} {r.gap_ratio:12.3f}"
        else:
            gap_text = f"{'-':>11} {'-':>12}"
        lines.append(
            f"{r.mustar:6.3f} {tc_text} {r.tc_allen_dynes_kelvin:16.2f} "
            f"{r.tc_mcmillan_kelvin:14.2f} {gap_text}"
        )
    return "\n".join(lines)


@cmd_root.command("eliashberg")
@click.argument("filename", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mustar",
    cls=MultipleValueOption,
    type=float,
    default=DEFAULT_MUSTAR,
    show_default=True,
    callback=mustar_list_callback,
    help=f"One or more mu* values, each in [{MUSTAR_RANGE[0]:g}, {MUSTAR_RANGE[1]:g}).",
)
@click.option(
    "--units",
    default=None,
    help="Frequency unit of a two-column file: meV, eV, THz, cm-1, Ry; default: the unit in its "
    "header ('# omega (eV) ...'), else meV. QE a2F.dosN (Ry) and lambda.x alpha2F.dat (THz) "
    "carry their own. A spectrum that cannot be phonons in the unit (highest frequency outside "
    "1-1000 meV) is refused.",
)
@click.option(
    "--column",
    type=click.IntRange(min=2),
    default=2,
    show_default=True,
    help="alpha^2F column of a text file.",
)
@click.option(
    "--broadening",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Broadening (1-based): the column of a lambda.x alpha2F.dat file, or column N+1 of a "
    "text file with one alpha^2F column per broadening.",
)
@click.option(
    "--cutoff-factor",
    default=10.0,
    show_default=True,
    help="Matsubara cutoff omega_c in units of the highest phonon frequency.",
)
@click.option(
    "--mustar-reference-cutoff",
    type=float,
    default=None,
    help="Reference cutoff (meV) at which mu* is given; mu* is then rescaled to omega_c "
    "(Allen-Mitrovic). Default: mu* applied as given at omega_c (EPW).",
)
@click.option("--no-gap", is_flag=True, help="Only Tc: skip Delta_0 and the gap curve.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Save alpha^2F and lambda(omega) to this image.",
)
@click.option(
    "--store",
    is_flag=True,
    help="Also run the clathrate.eliashberg calcfunction in the AiiDA profile (needs a profile).",
)
def cmd_eliashberg(
    filename,
    mustar,
    units,
    column,
    broadening,
    cutoff_factor,
    mustar_reference_cutoff,
    no_gap,
    plot,
    store,
):
    """Eliashberg Tc, Allen-Dynes and McMillan Tc and the gap for the alpha^2F in FILENAME.

    FILENAME is a Quantum ESPRESSO matdyn a2F.dosN file, a lambda.x alpha2F.dat file or a
    two-column text file (omega, alpha^2F). Without --store no AiiDA profile is used.
    """
    context = click.get_current_context()
    given = {
        name: context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
        for name in ("column", "broadening")
    }
    if given["broadening"]:
        fmt = detect_format(filename)
        if fmt == "qe_a2f_dos":
            raise click.BadParameter(
                "a matdyn a2F.dosN file holds one broadening (its N): choose the file instead",
                param_hint="--broadening",
            )
        if fmt == "two_column":
            if given["column"]:
                raise click.BadParameter(
                    "give --column or --broadening (column = broadening + 1), not both",
                    param_hint="--broadening",
                )
            column = broadening + 1
    try:
        spectrum = read_alpha2f(filename, units, column, broadening)
        settings = EliashbergSettings(
            omega_cutoff_factor=cutoff_factor, mustar_reference_cutoff_mev=mustar_reference_cutoff
        )
        summary = run_eliashberg(
            spectrum.omega_mev,
            spectrum.a2f,
            list(mustar),
            settings,
            with_gap=not no_gap,
            with_curve=False,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    header = f"{filename}: {spectrum.file_format} ({spectrum.input_unit})"
    if spectrum.broadening:
        header += f", broadening {spectrum.broadening}"
    click.echo(format_table(summary, header))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        from aiida_clathrate.eliashberg.plotting import plot_alpha2f_lambda

        figure, _, _ = plot_alpha2f_lambda(spectrum.omega_mev, spectrum.a2f)
        figure.savefig(plot, dpi=150)
        click.echo(f"figure written to {plot}")
    if store:
        _store(spectrum, list(mustar), settings)


def _store(spectrum, mustar, settings) -> None:
    from aiida import load_profile, orm
    from aiida.common.exceptions import ConfigurationError
    from aiida.manage import get_manager

    from aiida_clathrate.calculations.eliashberg import alpha2f_xydata, eliashberg

    if get_manager().get_profile() is None:
        try:
            load_profile()
        except ConfigurationError as exc:
            raise click.ClickException(f"--store needs an AiiDA profile: {exc}") from exc
    node = alpha2f_xydata(spectrum.omega_mev, spectrum.a2f, "meV")
    node.label = str(spectrum.source)
    overrides = {
        k: v for k, v in settings.as_dict().items() if v != getattr(EliashbergSettings(), k)
    }
    results, process = eliashberg.run_get_node(
        alpha2f=node, mustar=orm.List(mustar), settings=orm.Dict(overrides)
    )
    if not process.is_finished_ok:
        raise click.ClickException(f"calcfunction<{process.pk}> failed: {process.exit_message}")
    click.echo(
        f"stored: calcfunction<{process.pk}>, result Dict<{results['result'].pk}>, "
        f"gap_curve XyData<{results['gap_curve'].pk}>"
    )
