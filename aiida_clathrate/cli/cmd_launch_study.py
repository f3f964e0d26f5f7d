"""``aiida-clathrate launch study --pairs K-Rb Sr-Sr --pressures 0 10 20``: compounds over pairs
and pressures, with the study's categories."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from .cmd_launch import PROTOCOLS, cmd_launch, run_or_submit
from .params import computer_option, metals_and_pressures, num_mpiprocs_option


def parse_pair(label: str) -> list[str]:
    """``K-Rb`` -> [K, Rb]; ``Sr-Sr`` or ``Sr`` -> [Sr]; ``KPb`` -> [K, Pb]."""
    from ..screening import split_pair

    parts = [p for p in label.split("-") if p]
    if len(parts) == 1:
        x, y = split_pair(parts[0])
        parts = [x] if y is None else [x, y]
    if not 1 <= len(parts) <= 2:
        raise click.UsageError(f"not a pair: {label!r} (write K-Rb, Sr-Sr or Sr)")
    return parts[:1] if len(parts) == 2 and parts[0] == parts[1] else parts


@cmd_launch.command("study")
@click.option(
    "--pairs",
    "pairs_given",
    multiple=True,
    help="Guest pairs: --pairs K-Rb Sr-Sr K-Pb (X-X or X for XB3C3).",
)
@click.argument("more", nargs=-1, metavar="[PAIRS]...")
@click.option(
    "--pressures",
    "pressures_gpa",
    type=float,
    multiple=True,
    help="Pressures in GPa, scanned upwards: --pressures 0 10 20 (default 0 5 10 15 20).",
)
@click.option(
    "--from-screening",
    "screening",
    type=int,
    default=None,
    help="PK of a ScreeningWorkChain: its ranked pairs (above the reference) instead of --pairs.",
)
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="With --from-screening: how many of the ranked pairs.")  # fmt: skip
@click.option("--protocol", type=PROTOCOLS, default="fast", show_default=True)
@click.option("--no-sscha", is_flag=True, help="Harmonic phonons and harmonic Tc only.")
@click.option(
    "--all-pressures",
    is_flag=True,
    help="Run every pressure, also above a pair's first stable one (Tc(P)).",
)
@click.option("--max-concurrent", type=click.IntRange(min=1), default=2, show_default=True,
              help="Compounds at once.")  # fmt: skip
@num_mpiprocs_option
@computer_option
@click.option("--daemon", is_flag=True, help="Submit to the daemon.")
@click.option("--wait", is_flag=True, help="With --daemon: wait for the end and print the table.")
@decorators.with_dbenv()
def cmd_launch_study(
    pairs_given: tuple[str, ...],
    more: tuple[str, ...],
    pressures_gpa: tuple[float, ...],
    screening: int | None,
    top: int,
    protocol: str,
    no_sscha: bool,
    all_pressures: bool,
    max_concurrent: int,
    num_mpiprocs: int,
    computer: str,
    daemon: bool,
    wait: bool,
) -> None:
    """Run the compound work chain over guest pairs and pressures; each pair's scan stops at its
    first stable pressure (--all-pressures: runs them all). Categories: stable,
    stable_under_pressure, or the verdict at the lowest pressure.

    PAIRS may follow --pairs directly (--pairs K-Rb Sr-Sr), and the pressures --pressures
    (--pressures 0 10 20)."""
    from aiida import orm

    from ..pseudo_family import SHIPPED_FAMILY_LABEL
    from ..structures import clathrate
    from ..workflows.study import StudyWorkChain
    from .checks import codes_on, require_daemon

    labels, pressures = metals_and_pressures(more, pressures_gpa)
    labels = list(pairs_given) + labels
    if screening is not None:
        if labels:
            echo.echo_critical("give --pairs or --from-screening, not both")
        node = orm.load_node(screening)
        if node.process_label != "ScreeningWorkChain" or "ranking" not in node.outputs:
            echo.echo_critical(f"<{screening}> is not a finished ScreeningWorkChain")
        labels = node.outputs.ranking.get_dict()["pairs"][:top]
    if not labels:
        echo.echo_critical("no pairs: give --pairs K-Rb ... or --from-screening PK")
    pairs = [parse_pair(label) for label in labels]
    for pair in pairs:
        try:
            clathrate(pair[0], pair[-1])
        except ValueError as exc:
            echo.echo_critical(f"pair {'-'.join(pair)}: {exc}")
    if wait and not daemon:
        echo.echo_critical("--wait only applies with --daemon")
    if daemon:
        require_daemon()
    names = ["pw", "ph", "q2r", "matdyn"] + ([] if no_sscha else ["sscha"])
    codes = codes_on(computer, SHIPPED_FAMILY_LABEL, names)
    builder = StudyWorkChain.get_builder()
    builder.pairs = orm.List(pairs)
    if pressures:
        builder.pressures_gpa = orm.List(sorted(pressures))
    builder.protocol = orm.Str(protocol)
    builder.codes = orm.Dict(codes)
    builder.run_sscha = orm.Bool(not no_sscha)
    builder.stop_at_stable = orm.Bool(not all_pressures)
    builder.num_mpiprocs = orm.Int(num_mpiprocs)
    builder.max_concurrent_compounds = orm.Int(max_concurrent)
    try:
        node = run_or_submit(builder, daemon, wait, "aiida-clathrate show")
    except ValueError as exc:
        echo.echo_critical(str(exc))
    if node is None:
        return
    from ..study import format_study

    if "table" not in node.outputs:
        echo.echo_critical(
            f"StudyWorkChain<{node.pk}> failed: {node.exit_status} {node.exit_message}"
        )
    echo.echo(format_study(node.outputs.table.get_dict()))
