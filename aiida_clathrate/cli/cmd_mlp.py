"""``aiida-clathrate mlp``: import configuration sets and launch MLP training / evaluation."""

from __future__ import annotations

import json
import pathlib

import click
from aiida.cmdline.utils import echo

from aiida_clathrate.cli import cmd_root


@cmd_root.group("mlp")
def cmd_mlp() -> None:
    """Machine-learning potential: configuration sets, training and evaluation CalcJobs."""


@cmd_mlp.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--label", default=None, help="label of the stored node")
def cmd_import(path: pathlib.Path, label: str | None) -> None:
    """Store an extxyz file as one ConfigurationSetData node and print its pk."""
    from aiida_clathrate.data.configurations import ConfigurationSetData

    try:
        node = ConfigurationSetData.from_extxyz(path)
    except (ValueError, OSError) as exc:
        echo.echo_critical(f"{path}: {exc}")
    node.label = label or path.stem
    node.store()
    click.echo(
        f"stored ConfigurationSetData<{node.pk}> with {node.n_configurations} configurations"
    )


@cmd_mlp.command("train")
@click.argument("configurations", nargs=-1, required=True, type=int)
@click.option("--code", "code_label", default="clathrate-mlp@localhost", show_default=True)
@click.option(
    "--parameters",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSON file of TrainingSettings fields",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--submit/--run", default=False, help="submit to the daemon instead of running")
def cmd_train(configurations, code_label, parameters, threads, submit) -> None:
    """Train a committee on the ConfigurationSetData nodes with the given pks."""
    from aiida import engine, orm
    from aiida.common.exceptions import NotExistent
    from aiida.plugins import WorkflowFactory

    from aiida_clathrate.data.configurations import ConfigurationSetData

    from .checks import require_daemon

    if submit:
        require_daemon()
    plugin = "clathrate.mlp.train"
    try:
        code = orm.load_code(code_label)
    except NotExistent:
        echo.echo_critical(f"--code {code_label}: no such code (aiida-clathrate setup makes it)")
    if code.default_calc_job_plugin != plugin:
        echo.echo_critical(f"--code {code_label} runs {code.default_calc_job_plugin}, not {plugin}")
    sets = {}
    for pk in configurations:
        try:
            node = orm.load_node(pk)
        except NotExistent:
            echo.echo_critical(f"configuration set {pk}: no such node")
        if not isinstance(node, ConfigurationSetData):
            echo.echo_critical(
                f"configuration set {pk}: {type(node).__name__}, not a ConfigurationSetData "
                "(aiida-clathrate mlp import FILE.xyz makes one)"
            )
        sets[f"set_{pk}"] = node
    settings = None
    if parameters:
        try:
            settings = json.loads(pathlib.Path(parameters).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            echo.echo_critical(f"--parameters {parameters}: not a JSON file ({exc})")
        if not isinstance(settings, dict):
            echo.echo_critical(
                f"--parameters {parameters}: a JSON object of TrainingSettings fields"
            )
        from aiida_clathrate.mlp.training import TrainingSettings

        try:
            TrainingSettings.from_dict(settings)
        except (TypeError, ValueError) as exc:
            echo.echo_critical(f"--parameters {parameters}: {exc}")
    builder = WorkflowFactory("clathrate.mlp.train.base").get_builder()
    try:
        builder.mlp.code = code
        builder.mlp.configurations = sets
        if settings is not None:
            builder.mlp.parameters = orm.Dict(settings)
        builder.mlp.num_threads = orm.Int(threads)
    except ValueError as exc:
        echo.echo_critical(str(exc))
    if submit:
        node = engine.submit(builder)
        click.echo(f"submitted MlpTrainBaseWorkChain<{node.pk}>")
        return
    results, node = engine.run_get_node(builder)
    click.echo(f"MlpTrainBaseWorkChain<{node.pk}> exit status {node.exit_status}")
    if not node.is_finished_ok:
        echo.echo_critical(f"{node.exit_message}; see verdi process report {node.pk}")
    if "metrics" in results:
        click.echo(json.dumps(results["metrics"].get_dict()["metrics"]["validation"], indent=2))
        click.echo(f"model: MlpModelData<{results['model'].pk}>")
