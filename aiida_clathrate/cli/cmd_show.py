"""``aiida-clathrate show PK``: the summary of a finished workflow."""

from __future__ import annotations

import click
from aiida.cmdline.params import arguments
from aiida.cmdline.utils import decorators, echo

from . import cmd_root


@cmd_root.command("show")
@arguments.PROCESS()
@decorators.with_dbenv()
def cmd_show(process) -> None:
    """Print the summary of an aiida-clathrate workflow."""
    from ..summary import compound_summary, format_summary, harmonic_summary, sscha_summary

    if process.process_label == "ScreeningWorkChain":
        from ..screening import format_ranking

        if not process.is_finished_ok or "table" not in process.outputs:
            echo.echo_critical(
                f"ScreeningWorkChain<{process.pk}> has no table (state {process.process_state.value}, "
                f"exit {process.exit_status})"
            )
        echo.echo(
            format_ranking(process.outputs.table.get_dict(), process.outputs.ranking.get_dict())
        )
        return
    if process.process_label == "StudyWorkChain":
        from ..study import format_study

        if "table" not in process.outputs:
            echo.echo_critical(
                f"StudyWorkChain<{process.pk}> has no table (state {process.process_state.value}, "
                f"exit {process.exit_status})"
            )
        echo.echo(format_study(process.outputs.table.get_dict()))
        return
    if process.process_label == "ThermodynamicsWorkChain":
        from ..thermodynamics import format_thermodynamics

        if not process.is_finished_ok or "thermodynamics" not in process.outputs:
            echo.echo_critical(
                f"ThermodynamicsWorkChain<{process.pk}> has no result (state "
                f"{process.process_state.value}, exit {process.exit_status})"
            )
        echo.echo(format_thermodynamics(process.outputs.thermodynamics.get_dict()))
        return
    summaries = {
        "HarmonicPhononWorkChain": harmonic_summary,
        "ClathrateSuperconductorWorkChain": compound_summary,
        "SschaWorkChain": sscha_summary,
    }
    if process.process_label not in summaries:
        echo.echo_critical(
            f"{process.process_label}<{process.pk}> is not an aiida-clathrate workflow"
        )
    echo.echo(format_summary(summaries[process.process_label](process)))
    if process.is_finished and not process.is_finished_ok:
        raise click.exceptions.Exit(1)
