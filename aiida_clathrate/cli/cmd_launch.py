"""``aiida-clathrate launch ...``: build a clathrate and run or submit a workflow on it."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from . import cmd_root
from .params import (
    computer_option,
    lattice_parameter_option,
    num_mpiprocs_option,
    pressure_option,
)

PROTOCOLS = click.Choice(["fast", "balanced", "stringent"])


@cmd_root.group("launch")
def cmd_launch() -> None:
    """Launch a workflow for one compound."""


def run_or_submit(builder, daemon: bool, wait: bool, then: str, poll_s: float = 2.0, info=None):
    """Run ``builder`` in this shell, or submit it to the daemon and, with ``wait``, poll until it
    terminates. Returns the node, or ``None`` after a submission without ``wait`` (the hint to
    follow it and the command ``then PK`` to read it are printed)."""
    import time

    from aiida.engine import run_get_node, submit

    if not daemon:
        if info:
            echo.echo_info(info)
        return run_get_node(builder)[1]
    node = submit(builder)
    echo.echo_success(f"submitted {node.process_label}<{node.pk}>")
    if not wait:
        echo.echo(f"follow it with: verdi process report {node.pk}; then: {then} {node.pk}")
        return None
    while not node.is_terminated:
        time.sleep(poll_s)
    return node


def _structure_node(x: str, y: str | None, lattice_parameter: float | None):
    from aiida import orm

    from ..structures import clathrate

    try:
        atoms = clathrate(x, y, lattice_parameter)
    except ValueError as exc:
        echo.echo_critical(str(exc))
    return orm.StructureData(ase=atoms)


def _harmonic_builder(
    x: str,
    y: str | None,
    lattice_parameter: float | None,
    protocol: str,
    pressure_gpa: float,
    family: str,
    num_mpiprocs: int,
    relax: bool = True,
    computer: str = "localhost",
):
    """The ``HarmonicPhononWorkChain`` builder of a pair on the codes of ``computer``
    (:func:`~aiida_clathrate.cli.checks.codes_on`); a bad input exits with its message."""
    from ..workflows.harmonic import HarmonicPhononWorkChain
    from .checks import codes_on

    structure = _structure_node(x, y, lattice_parameter)
    codes = codes_on(computer, family, ["pw", "ph", "q2r", "matdyn"])
    try:
        return HarmonicPhononWorkChain.get_builder_from_protocol(
            codes,
            structure,
            protocol,
            pressure_gpa=pressure_gpa,
            pseudo_family=family,
            num_mpiprocs=num_mpiprocs,
            relax=relax,
        )
    except ValueError as exc:
        echo.echo_critical(str(exc))


@cmd_launch.command("harmonic")
@click.argument("x")
@click.argument("y", required=False)
@pressure_option
@click.option("--protocol", type=PROTOCOLS, default="fast", show_default=True)
@lattice_parameter_option
@num_mpiprocs_option
@computer_option
@click.option("--pseudo-family", default=None, help="Default: the family shipped with the package.")
@click.option("--no-relax", is_flag=True, help="Skip the variable-cell relaxation.")
@click.option(
    "--daemon", is_flag=True, help="Submit to the daemon instead of running in this shell."
)
@decorators.with_dbenv()
def cmd_launch_harmonic(
    x: str,
    y: str | None,
    pressure_gpa: float,
    protocol: str,
    lattice_parameter: float | None,
    num_mpiprocs: int,
    computer: str,
    pseudo_family: str | None,
    no_relax: bool,
    daemon: bool,
) -> None:
    """Harmonic phonons of XYB6C6 (or XB3C3 when Y is omitted) at a pressure."""
    from aiida.engine import run_get_node, submit

    from ..summary import format_summary, harmonic_summary
    from .checks import require_daemon, require_pseudo_family

    if daemon:
        require_daemon()
    family = require_pseudo_family(pseudo_family)
    builder = _harmonic_builder(
        x,
        y,
        lattice_parameter,
        protocol,
        pressure_gpa,
        family,
        num_mpiprocs,
        relax=not no_relax,
        computer=computer,
    )
    if daemon:
        node = submit(builder)
        echo.echo_success(f"submitted HarmonicPhononWorkChain<{node.pk}>")
        echo.echo(
            f"follow it with: verdi process report {node.pk}; then: aiida-clathrate show {node.pk}"
        )
        return
    echo.echo_info(f"running {builder.metadata.label} with the {protocol} protocol in this shell")
    _, node = run_get_node(builder)
    echo.echo(format_summary(harmonic_summary(node)))
    if not node.is_finished_ok:
        echo.echo_critical(f"HarmonicPhononWorkChain<{node.pk}> failed: {node.exit_message}")
