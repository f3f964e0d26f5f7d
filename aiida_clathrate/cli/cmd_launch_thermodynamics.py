"""``aiida-clathrate launch thermodynamics X [Y] --pressures ...``: formation enthalpy against the
elements and the synthesis window."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from ..thermodynamics import ENTROPY_MODELS
from .cmd_launch import PROTOCOLS, cmd_launch, run_or_submit
from .params import computer_option, metals_and_pressures, num_mpiprocs_option


@cmd_launch.command("thermodynamics")
@click.argument("metals", nargs=-1, required=True)
@click.option(
    "--pressures",
    "pressures_gpa",
    type=float,
    multiple=True,
    help="Pressures in GPa: --pressures 0 10 20 (or repeat the option); default 0 10 20 30 40 50.",
)
@click.option("--protocol", type=PROTOCOLS, default="fast", show_default=True)
@click.option(
    "--entropy-model",
    type=click.Choice(ENTROPY_MODELS),
    default=None,
    help="Configurational entropy: ideal mixing of X/Y and B/C (default), of X/Y only, of B/C only.",
)
@click.option(
    "--temperature-max",
    "temperature_max_k",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Synthesis temperature (K) of the window; default the study's 4000 K.",
)
@click.option("--ecutwfc", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Wavefunction cutoff (Ry); default the family's for the protocol. ecutrho = 4x.")  # fmt: skip
@num_mpiprocs_option
@computer_option
@click.option("--daemon", is_flag=True, help="Submit to the daemon.")
@click.option("--wait", is_flag=True, help="With --daemon: wait for the end and print the table.")
@decorators.with_dbenv()
def cmd_launch_thermodynamics(
    metals: tuple[str, ...],
    pressures_gpa: tuple[float, ...],
    protocol: str,
    entropy_model: str | None,
    temperature_max_k: float | None,
    ecutwfc: float | None,
    num_mpiprocs: int,
    computer: str,
    daemon: bool,
    wait: bool,
) -> None:
    """ΔH(P) of the clathrate of METALS (X for XB3C3, X Y for XYB6C6) against the elements, and
    the pressure above which T*(P) = ΔH/S falls to the synthesis temperature."""
    from ..pseudo_family import SHIPPED_FAMILY_LABEL
    from ..structures import clathrate
    from ..thermodynamics import format_thermodynamics
    from ..workflows.thermodynamics import ThermodynamicsWorkChain
    from .checks import codes_on, require_daemon

    metals, pressures = metals_and_pressures(metals, pressures_gpa)
    if not 1 <= len(metals) <= 2:
        echo.echo_critical(f"give one metal (XB3C3) or two (XYB6C6), got {len(metals)}")
    try:
        clathrate(metals[0], metals[-1])
    except ValueError as exc:
        echo.echo_critical(str(exc))
    if wait and not daemon:
        echo.echo_critical("--wait only applies with --daemon")
    if daemon:
        require_daemon()
    overrides = {}
    if entropy_model:
        overrides["entropy_model"] = entropy_model
    if temperature_max_k:
        overrides["temperature_max_k"] = temperature_max_k
    if ecutwfc:
        overrides.update(ecutwfc_ry=ecutwfc, ecutrho_ry=4.0 * ecutwfc)
    codes = codes_on(computer, SHIPPED_FAMILY_LABEL, ["pw"])
    builder = ThermodynamicsWorkChain.get_builder_from_protocol(
        codes["pw"],
        list(metals),
        protocol,
        pressures or None,
        overrides=overrides or None,
        num_mpiprocs=num_mpiprocs,
    )
    node = run_or_submit(builder, daemon, wait, "aiida-clathrate show")
    if node is None:
        return
    if not node.is_finished_ok:
        echo.echo_critical(
            f"ThermodynamicsWorkChain<{node.pk}> failed: {node.exit_status} {node.exit_message}"
        )
    echo.echo(format_thermodynamics(node.outputs.thermodynamics.get_dict()))
