"""``aiida-clathrate export PK... --output FILE``: an AiiDA archive with the full provenance of nodes."""

from __future__ import annotations

import logging
import pathlib

import click
from aiida.cmdline.utils import decorators, echo

from . import cmd_root


@cmd_root.command("export")
@click.argument("pks", nargs=-1, type=int)
@click.option(
    "-g",
    "--group",
    "group_labels",
    multiple=True,
    help="Also export this group (e.g. clathrate/stable) with all its nodes and their provenance; "
    "the import recreates the group. Repeatable.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    required=True,
    help="Archive file to write (conventionally NAME.aiida).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@decorators.with_dbenv()
def cmd_export(
    pks: tuple[int, ...], group_labels: tuple[str, ...], output: pathlib.Path, overwrite: bool
) -> None:
    """Write nodes (by PK) and groups with their full provenance to an AiiDA archive.

    aiida's export rules apply: the inputs and creators of every node, the callers of a
    process and, for a workflow, everything it called and returned; extras (Tc, stability, ...)
    travel with the nodes. Group membership travels only with `--group` (which exports every
    node of the group). Import with `verdi archive import FILE`.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent
    from aiida.tools.archive import create_archive

    if not pks and not group_labels:
        echo.echo_critical("give node PKs, --group LABEL, or both")
    if output.exists() and not overwrite:
        echo.echo_critical(f"{output} exists: pass --overwrite to replace it")
    if output.exists() and output.is_dir():
        echo.echo_critical(f"{output} is a directory")
    if not output.parent.is_dir():
        echo.echo_critical(f"folder {output.parent} does not exist")
    nodes, unknown = [], []
    for pk in dict.fromkeys(pks):
        try:
            nodes.append(orm.load_node(pk))
        except NotExistent:
            unknown.append(pk)
    if unknown:
        echo.echo_critical(f"no node with PK {', '.join(map(str, unknown))}: nothing written")
    groups, missing = [], []
    for label in dict.fromkeys(group_labels):
        try:
            groups.append(orm.Group.collection.get(label=label))
        except NotExistent:
            missing.append(label)
    if missing:
        echo.echo_critical(f"no group labelled {', '.join(missing)}: nothing written")
    export_logger = logging.getLogger("aiida.export")
    level = export_logger.level
    export_logger.setLevel(logging.WARNING)  # aiida reports every traversal rule otherwise
    try:
        path = create_archive([*nodes, *groups], filename=output, overwrite=overwrite)
    finally:
        export_logger.setLevel(level)
    with _archive_reader(path) as archive:
        count = archive.querybuilder().append(orm.Node).count()
    given = f"{len(nodes)} given" + (
        f", {len(groups)} group(s) with {sum(g.count() for g in groups)} members" if groups else ""
    )
    echo.echo_success(f"wrote {path} ({count} nodes: {given} and their provenance)")


def _archive_reader(path: pathlib.Path):
    from aiida.tools.archive.abstract import get_format

    return get_format().open(path, mode="r")
