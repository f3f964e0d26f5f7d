"""``aiida-clathrate mlp``: import configuration sets and launch MLP training / evaluation."""

from __future__ import annotations

import json
import pathlib

import click

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

    node = ConfigurationSetData.from_extxyz(path)
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
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--submit/--run", default=False, help="submit to the daemon instead of running")
def cmd_train(configurations, code_label, parameters, threads, submit) -> None:
    """Train a committee on the ConfigurationSetData nodes with the given pks."""
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    builder = CalculationFactory("clathrate.mlp.train").get_builder()
    builder.code = orm.load_code(code_label)
    builder.configurations = {f"set_{pk}": orm.load_node(pk) for pk in configurations}
    if parameters:
        builder.parameters = orm.Dict(json.loads(pathlib.Path(parameters).read_text()))
    builder.num_threads = orm.Int(threads)
    if submit:
        node = engine.submit(builder)
        click.echo(f"submitted MlpTrainCalculation<{node.pk}>")
        return
    results, node = engine.run_get_node(builder)
    click.echo(f"MlpTrainCalculation<{node.pk}> exit status {node.exit_status}")
    if "metrics" in results:
        click.echo(json.dumps(results["metrics"].get_dict()["metrics"]["validation"], indent=2))
        click.echo(f"model: MlpModelData<{results['model'].pk}>")
