"""``aiida-clathrate setup``: computer, codes and pseudopotentials, idempotently."""

from __future__ import annotations

import click
from aiida.cmdline.utils import decorators, echo

from ..pseudo_family import SHIPPED_FAMILY_LABEL
from . import cmd_root


@cmd_root.command("setup")
@click.option(
    "--pseudo-family",
    default=SHIPPED_FAMILY_LABEL,
    show_default=True,
    help="Family to check or install. The default is shipped inside the package; any other label "
    "(e.g. SSSP/1.3/PBE/efficiency installed with `aiida-pseudo install sssp`) must already exist.",
)
@decorators.with_dbenv()
def cmd_setup(pseudo_family: str) -> None:
    """Create or reuse the localhost computer, the QE and project codes and the pseudopotential family."""
    from ..localhost import setup_localhost

    try:
        items = setup_localhost(pseudo_family)
    except ValueError as exc:
        echo.echo_critical(str(exc))
    for item in items:
        state = "created" if item.created else "exists "
        if item.detail.startswith("SKIPPED"):
            state = "skipped"
        echo.echo(f"{state}  {item.kind:<14} {item.label:<45} {item.detail}")
    n_created = sum(item.created for item in items)
    echo.echo_success(f"{n_created} created, {len(items) - n_created} already there")
