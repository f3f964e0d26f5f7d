"""``aiida-clathrate launch compound X [Y]``: the whole chain for one compound, tagged on success."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from ..eliashberg.mustar import DEFAULT_MUSTAR, MUSTAR_RANGE
from .cmd_launch import PROTOCOLS, _structure_node, cmd_launch, run_or_submit
from .params import (
    computer_option,
    lattice_parameter_option,
    mustar_list_callback,
    num_mpiprocs_option,
    pressure_option,
)

QE_CODE_NAMES = ("pw", "ph", "q2r", "matdyn")


@cmd_launch.command("compound")
@click.argument("x")
@click.argument("y", required=False)
@pressure_option
@click.option("--protocol", type=PROTOCOLS, default="fast", show_default=True)
@lattice_parameter_option
@num_mpiprocs_option
@computer_option
@click.option("--pseudo-family", default=None, help="Default: the family shipped with the package.")
@click.option("--no-relax", is_flag=True, help="Skip the variable-cell relaxation.")
@click.option("--no-sscha", is_flag=True, help="Harmonic phonons and harmonic Tc only.")
@click.option(
    "--one-pass/--two-passes",
    default=True,
    show_default=True,
    help="Phonons and electron-phonon gamma matrices from the same ph.x runs where the harmonic "
    "and electron-phonon protocols agree on the DFPT settings (--two-passes: separate ph.x runs).",
)
@click.option(
    "--sscha-engine",
    type=click.Choice(["dft", "mlp", "active"]),
    default="dft",
    show_default=True,
    help="Forces for the SSCHA populations (active: DFT first, then a committee MLP with DFT "
    "where the committee disagrees).",
)
@click.option(
    "--mlp-model", type=int, default=None, help="PK of the MlpModelData for --sscha-engine mlp."
)
@click.option(
    "--mustar",
    type=float,
    multiple=True,
    callback=mustar_list_callback,
    help="Coulomb pseudopotential (repeat the option), each in "
    f"[{MUSTAR_RANGE[0]:g}, {MUSTAR_RANGE[1]:g}); default "
    + ", ".join(f"{m:.2f}" for m in DEFAULT_MUSTAR)
    + ".",
)
@click.option(
    "--daemon", is_flag=True, help="Submit to the daemon instead of running in this shell."
)
@click.option("--wait", is_flag=True, help="With --daemon: wait for the end and print the summary.")
@decorators.with_dbenv()
def cmd_launch_compound(
    x: str,
    y: str | None,
    pressure_gpa: float,
    protocol: str,
    lattice_parameter: float | None,
    num_mpiprocs: int,
    computer: str,
    pseudo_family: str | None,
    no_relax: bool,
    no_sscha: bool,
    one_pass: bool,
    sscha_engine: str,
    mlp_model: int | None,
    mustar: tuple[float, ...],
    daemon: bool,
    wait: bool,
) -> None:
    """Harmonic phonons, SSCHA and Eliashberg Tc of XYB6C6 (or XB3C3 when Y is omitted)."""

    from ..summary import compound_summary, format_summary
    from ..workflows.compound import ClathrateSuperconductorWorkChain
    from .checks import codes_on, load_mlp_model, require_daemon, require_pseudo_family

    if wait and not daemon:
        echo.echo_critical(
            "--wait only applies with --daemon (without it the run is in this shell)"
        )
    engine_given = (
        click.get_current_context().get_parameter_source("sscha_engine")
        != click.core.ParameterSource.DEFAULT
    )
    if no_sscha and (engine_given or mlp_model is not None):
        echo.echo_critical("--no-sscha runs no SSCHA: --sscha-engine and --mlp-model do not apply")
    if mlp_model is not None and sscha_engine != "mlp":
        echo.echo_critical(
            f"--mlp-model applies to --sscha-engine mlp only (the {sscha_engine} engine "
            "would ignore it)"
        )
    if daemon:
        require_daemon()
    family = require_pseudo_family(pseudo_family)
    model = load_mlp_model(mlp_model, "--mlp-model") if mlp_model is not None else None
    structure = _structure_node(x, y, lattice_parameter)
    keys = list(QE_CODE_NAMES)
    if not no_sscha:
        keys += ["sscha"] + (["mlp"] if sscha_engine in ("mlp", "active") else [])
    codes = codes_on(computer, family, keys)
    metals = (x,) if y is None or y == x else (x, y)
    try:
        builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
            codes,
            structure,
            protocol,
            pressure_gpa=pressure_gpa,
            run_sscha=not no_sscha,
            sscha_engine=sscha_engine,
            mustar=list(mustar) or list(DEFAULT_MUSTAR),
            metals=metals,
            pseudo_family=family,
            num_mpiprocs=num_mpiprocs,
            relax=not no_relax,
            mlp_model=model,
            one_pass=one_pass,
        )
    except ValueError as exc:
        echo.echo_critical(str(exc))
    node = run_or_submit(
        builder,
        daemon,
        wait,
        "aiida-clathrate show",
        poll_s=5.0,
        info=f"running {builder.metadata.label} with the {protocol} protocol here",
    )
    if node is None:
        return
    echo.echo(format_summary(compound_summary(node)))
    if not node.is_finished_ok:
        echo.echo_critical(
            f"ClathrateSuperconductorWorkChain<{node.pk}> failed: {node.exit_message}"
        )
