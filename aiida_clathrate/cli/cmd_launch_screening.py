"""``aiida-clathrate launch screening --metals ...``: N(E_F) of every guest pair, ranked."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from ..screening import format_ranking
from .cmd_launch import PROTOCOLS, cmd_launch, run_or_submit
from .params import computer_option, num_mpiprocs_option, pressure_option


@cmd_launch.command("screening")
@click.option(
    "--metals",
    multiple=True,
    required=True,
    help="Guest metals (repeat, or one space-separated string); every unordered pair, X = Y too.",
)
@pressure_option
@click.option("--protocol", type=PROTOCOLS, default="fast", show_default=True)
@num_mpiprocs_option
@computer_option
@click.option("--max-concurrent", type=click.IntRange(min=1), default=None, help="Pairs at once.")
@click.option("--no-relax", is_flag=True, help="Skip the relaxations (prototype lattice).")
@click.option(
    "--launch-compounds",
    "top",
    type=click.IntRange(min=1),
    default=None,
    help="After the screen, submit the compound work chain for the TOP pairs of the ranking "
    "(needs --daemon and --wait).",
)
@click.option("--daemon", is_flag=True, help="Submit to the daemon.")
@click.option("--wait", is_flag=True, help="With --daemon: wait for the end and print the ranking.")
@decorators.with_dbenv()
def cmd_launch_screening(
    metals: tuple[str, ...],
    pressure_gpa: float,
    protocol: str,
    num_mpiprocs: int,
    computer: str,
    max_concurrent: int | None,
    no_relax: bool,
    top: int | None,
    daemon: bool,
    wait: bool,
) -> None:
    """Screen every pair of METALS by the density of states at the Fermi level (Fig. 1c)."""

    from ..pseudo_family import SHIPPED_FAMILY_LABEL
    from ..structures import enumerate_pairs
    from ..workflows.screening import ScreeningWorkChain
    from .checks import codes_on, require_daemon

    symbols = [m for value in metals for m in value.split()]
    try:
        pairs = enumerate_pairs(symbols)
    except (ValueError, KeyError) as exc:
        echo.echo_critical(f"--metals: {exc}")
    if wait and not daemon:
        echo.echo_critical("--wait only applies with --daemon")
    if top is not None and not (daemon and wait):
        echo.echo_critical(
            "--launch-compounds needs --daemon --wait (the screen must finish first)"
        )
    if daemon:
        require_daemon()
    codes = codes_on(computer, SHIPPED_FAMILY_LABEL, ["pw", "dos", "projwfc"])
    if top is not None:
        codes_on(computer, SHIPPED_FAMILY_LABEL, ["ph", "q2r", "matdyn", "sscha"])
    builder = ScreeningWorkChain.get_builder_from_protocol(
        codes,
        symbols,
        protocol,
        pressure_gpa=pressure_gpa,
        num_mpiprocs=num_mpiprocs,
        max_concurrent_pairs=max_concurrent,
        relax=not no_relax,
    )
    echo.echo_info(
        f"{len(pairs)} pairs of {', '.join(symbols)} at {pressure_gpa:g} GPa ({protocol})"
    )
    node = run_or_submit(builder, daemon, wait, "aiida-clathrate plot")
    if node is None:
        return
    if not node.is_finished_ok:
        echo.echo_critical(
            f"ScreeningWorkChain<{node.pk}> failed: {node.exit_status} {node.exit_message}"
        )
    ranking = node.outputs.ranking.get_dict()
    echo.echo(format_ranking(node.outputs.table.get_dict(), ranking))
    if top is not None:
        _launch_compounds(ranking, top, protocol, pressure_gpa, num_mpiprocs, computer)


def _launch_compounds(ranking: dict, top: int, protocol, pressure_gpa, num_mpiprocs, computer):
    """Submit ``launch compound`` for the first ``top`` pairs of the ranking."""
    from aiida import orm
    from aiida.engine import submit

    from ..pseudo_family import SHIPPED_FAMILY_LABEL
    from ..screening import split_pair
    from ..structures import clathrate
    from ..workflows.compound import ClathrateSuperconductorWorkChain
    from .checks import codes_on

    codes = codes_on(computer, SHIPPED_FAMILY_LABEL, ["pw", "ph", "q2r", "matdyn", "sscha"])
    for label in ranking["pairs"][:top]:
        x, y = split_pair(label)
        builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
            codes,
            orm.StructureData(ase=clathrate(x, y)),
            protocol,
            pressure_gpa=pressure_gpa,
            metals=(x,) if y is None else (x, y),
            num_mpiprocs=num_mpiprocs,
        )
        node = submit(builder)
        echo.echo_success(f"submitted ClathrateSuperconductorWorkChain<{node.pk}> for {label}")
