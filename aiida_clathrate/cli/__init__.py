"""The ``aiida-clathrate`` command line: a click group on AiiDA's ``VerdiCommandGroup``."""

from __future__ import annotations

import click
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.params import options, types


@click.group(
    "aiida-clathrate",
    cls=VerdiCommandGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@options.PROFILE(type=types.ProfileParamType(load_profile=True), expose_value=False)
def cmd_root() -> None:
    """Predict superconductivity of B-C clathrates with AiiDA (harmonic and SSCHA phonons, Eliashberg Tc)."""


# Sub-commands register themselves on ``cmd_root`` when their module is imported.
from . import (  # noqa: E402,F401
    cmd_eliashberg,
    cmd_export,
    cmd_launch,
    cmd_launch_compound,
    cmd_launch_screening,
    cmd_launch_sscha,
    cmd_launch_study,
    cmd_launch_thermodynamics,
    cmd_mlp,
    cmd_plot,
    cmd_query,
    cmd_report,
    cmd_setup,
    cmd_show,
)
