"""``aiida-clathrate launch sscha X [Y]``: harmonic phonons, then the SSCHA on their matrices.

Two sequential runs rather than a wrapper workchain: ``SschaWorkChain`` takes the harmonic
workchain's ``relaxed_structure`` and ``dynamical_matrices`` nodes as inputs, so the provenance
graph joins the two anyway; a finished harmonic run (``--harmonic PK``) can feed several SSCHA
runs (engines, temperatures); and a wrapper would repeat both workchains' protocol inputs.
The harmonic step runs in this shell (unless reused); ``--daemon`` submits the SSCHA step.
The SSCHA builder is ``workflows/sscha_inputs.py::sscha_builder_on_harmonic`` (the protocols of
``workflows/protocols/sscha.yaml``, ``SschaWorkChain.get_builder_from_protocol``).
"""

from __future__ import annotations

import math

import click
from aiida.cmdline.utils import decorators, echo

from .cmd_launch import PROTOCOLS, _harmonic_builder, cmd_launch
from .params import (
    computer_option,
    lattice_parameter_option,
    num_mpiprocs_option,
    pressure_option,
)

ENGINES = click.Choice(["dft", "mlp", "active"])


def _load_harmonic(pk: int):
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        node = orm.load_node(pk)
    except NotExistent:
        echo.echo_critical(f"--harmonic {pk}: no such node")
    if (
        not isinstance(node, orm.WorkChainNode)
        or node.process_label != "HarmonicPhononWorkChain"
        or not node.is_finished_ok
    ):
        echo.echo_critical(f"--harmonic {pk}: not a finished-ok HarmonicPhononWorkChain")
    return node


def _check_harmonic_matches(harmonic, x: str, y: str | None, pressure_gpa: float) -> None:
    """Exit unless the reused harmonic run is of the pair and at the pressure asked for."""
    from ..structures import clathrate

    try:
        expected = clathrate(x, y).get_chemical_formula(mode="hill")
    except ValueError as exc:
        echo.echo_critical(str(exc))
    structure = harmonic.inputs.structure.get_ase()
    found = structure.get_chemical_formula(mode="hill")
    if found != expected:
        echo.echo_critical(
            f"--harmonic {harmonic.pk} is {found}, not {expected}: give the pair of that run"
        )
    ran_at = harmonic.inputs.pressure_gpa.value
    if abs(ran_at - pressure_gpa) > 1e-6:
        echo.echo_critical(
            f"--harmonic {harmonic.pk} ran at {ran_at:g} GPa, not --pressure {pressure_gpa:g}"
        )


@cmd_launch.command("sscha")
@click.argument("x")
@click.argument("y", required=False)
@pressure_option
@click.option("--protocol", type=PROTOCOLS, default="fast", show_default=True)
@click.option("--engine", type=ENGINES, default="active", show_default=True)
@click.option("--model", "model_pk", type=int, default=None, help="MlpModelData PK (engine mlp).")
@click.option("--temperature", "temperature_kelvin", type=float, default=0.0, show_default=True)
@click.option("--harmonic", "harmonic_pk", type=int, default=None, help="Reuse this harmonic run.")
@lattice_parameter_option
@num_mpiprocs_option
@computer_option
@click.option("--pseudo-family", default=None, help="Default: the family shipped with the package.")
@click.option(
    "--relax-cell",
    is_flag=True,
    help="Relax the cell to --pressure with the SSCHA (quantum) stress, population by population.",
)
@click.option("--daemon", is_flag=True, help="Submit the SSCHA step to the daemon.")
@decorators.with_dbenv()
def cmd_launch_sscha(
    x: str,
    y: str | None,
    pressure_gpa: float,
    protocol: str,
    engine: str,
    model_pk: int | None,
    temperature_kelvin: float,
    harmonic_pk: int | None,
    lattice_parameter: float | None,
    num_mpiprocs: int,
    computer: str,
    pseudo_family: str | None,
    relax_cell: bool,
    daemon: bool,
) -> None:
    """Harmonic phonons then the SSCHA of XYB6C6 (or XB3C3) at a pressure; prints the verdict
    and the lowest harmonic and anharmonic frequencies."""
    from aiida.engine import run_get_node, submit

    from ..summary import format_summary, sscha_summary
    from ..workflows.sscha_inputs import sscha_builder_on_harmonic
    from .checks import codes_on, load_mlp_model, require_daemon, require_pseudo_family

    if engine == "mlp" and model_pk is None:
        echo.echo_critical("engine mlp needs --model PK (a trained MlpModelData)")
    if engine != "mlp" and model_pk is not None:
        echo.echo_critical(f"--model applies to --engine mlp only (the {engine} engine ignores it)")
    if not math.isfinite(temperature_kelvin) or temperature_kelvin < 0:
        echo.echo_critical(f"--temperature must be a finite number >= 0, got {temperature_kelvin}")
    if harmonic_pk is not None and lattice_parameter is not None:
        echo.echo_critical("--lattice-parameter does not apply with --harmonic (its run is reused)")
    if daemon:
        require_daemon()
    family = require_pseudo_family(pseudo_family)
    model = load_mlp_model(model_pk, "--model") if engine == "mlp" else None
    keys = {"dft": ["sscha", "pw"], "mlp": ["sscha", "mlp"], "active": ["sscha", "pw", "mlp"]}
    if harmonic_pk is not None:
        harmonic = _load_harmonic(harmonic_pk)
        _check_harmonic_matches(harmonic, x, y, pressure_gpa)
        codes = codes_on(computer, family, keys[engine])
    else:
        builder = _harmonic_builder(
            x, y, lattice_parameter, protocol, pressure_gpa, family, num_mpiprocs, computer=computer
        )
        codes = codes_on(computer, family, keys[engine])  # the SSCHA's too, before anything runs
        echo.echo_info(f"running {builder.metadata.label} ({protocol}) in this shell")
        _, harmonic = run_get_node(builder)
        if not harmonic.is_finished_ok:
            echo.echo_critical(
                f"HarmonicPhononWorkChain<{harmonic.pk}> failed: {harmonic.exit_message}"
            )
    try:
        builder = sscha_builder_on_harmonic(
            harmonic,
            protocol,
            engine,
            codes={key: codes[key] for key in ("sscha", "pw", "mlp") if key in codes},
            mlp_model=model,
            temperature_kelvin=temperature_kelvin,
            relax_cell=relax_cell,
            pseudo_family=family,
            num_mpiprocs=num_mpiprocs,
        )
    except ValueError as exc:
        echo.echo_critical(str(exc))
    harmonic_lowest = harmonic.outputs.min_frequency_cm1.value
    if daemon:
        node = submit(builder)
        echo.echo_success(
            f"submitted SschaWorkChain<{node.pk}> on HarmonicPhononWorkChain<{harmonic.pk}>"
        )
        echo.echo(
            f"lowest harmonic frequency {harmonic_lowest:.1f} cm^-1; then: aiida-clathrate show {node.pk}"
        )
        return
    echo.echo_info(f"running {builder.metadata.label} in this shell")
    _, node = run_get_node(builder)
    echo.echo(format_summary(sscha_summary(node)))
    if not node.is_finished_ok:
        echo.echo_critical(f"SschaWorkChain<{node.pk}> failed: {node.exit_message}")
    verdict = node.outputs.verdict.get_dict()
    anharmonic = verdict.get("lowest_hessian_cm1")
    if anharmonic is None:
        anharmonic = verdict.get("lowest_auxiliary_cm1")
    harmonic_verdict = "stable" if harmonic.outputs.dynamically_stable.value else "unstable"
    echo.echo(f"harmonic verdict:   {harmonic_verdict} (lowest {harmonic_lowest:.1f} cm^-1)")
    echo.echo(f"anharmonic verdict: {verdict['category']} (lowest {anharmonic:.1f} cm^-1)")
