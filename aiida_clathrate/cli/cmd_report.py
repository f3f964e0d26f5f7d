"""``aiida-clathrate report PK``: a study's report, one self-contained HTML page and Markdown."""

from __future__ import annotations

import pathlib

from aiida.cmdline.params import arguments
from aiida.cmdline.utils import decorators, echo

from . import cmd_root
from .params import output_dir_option


@cmd_root.command("report")
@arguments.PROCESS()
@output_dir_option("the report")
@decorators.with_dbenv()
def cmd_report(process, output_dir: pathlib.Path) -> None:
    """Write the report of a StudyWorkChain and print the files written.

    study_<PK>.html: one self-contained page (inline CSS, figures embedded as PNG data URIs) with
    the settings, the category table, per compound and pressure the verdicts, lattice parameters,
    lambda, omega_log, Tc per mu* and Tc ± uncertainty, each number with the PK of its node, the
    study's headline numbers beside ours, the thermodynamics and the figures of
    ``aiida-clathrate plot``. study_<PK>.md: the same as Markdown, its figures as PNG files next
    to it.
    """
    import matplotlib

    matplotlib.use("Agg")
    from ..report import write_report
    from ..study_data import gather_study

    if process.process_label != "StudyWorkChain":
        echo.echo_critical(
            f"{process.process_label}<{process.pk}> is not a StudyWorkChain: report takes a study"
        )
    html_path, markdown_path = write_report(gather_study(process), output_dir)
    for path in sorted(output_dir.glob(f"{markdown_path.stem}_*.png")):
        echo.echo(str(path))
    echo.echo(str(markdown_path))
    echo.echo(str(html_path))
