"""Train the clathrate MLP through AiiDA on localhost and label new configurations.

export AIIDA_PATH=...; verdi profile ...   # a configured AiiDA profile
aiida-clathrate setup                      # registers the `clathrate-mlp` code on localhost
python examples/mlp_train_and_evaluate.py ../shared/datasets/krbb6c6-displaced/krbb6c6_dft.xyz
"""

from __future__ import annotations

import sys

from aiida import load_profile, orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, DataFactory


def main(path: str) -> None:
    load_profile()
    ConfigurationSetData = DataFactory("clathrate.configurations")
    configurations = ConfigurationSetData.from_extxyz(path)
    frames = configurations.to_frames()
    training = ConfigurationSetData(frames=frames[:170])
    unseen = ConfigurationSetData(frames=frames[170:])
    code = orm.load_code("clathrate-mlp@localhost")

    builder = CalculationFactory("clathrate.mlp.train").get_builder()
    builder.code = code
    builder.configurations = {"krbb6c6": training}
    builder.parameters = orm.Dict({"committee_size": 4, "max_epochs": 200})
    results, node = run_get_node(builder)
    print(
        "train", node.pk, node.exit_status, results["metrics"].get_dict()["metrics"]["validation"]
    )

    builder = CalculationFactory("clathrate.mlp.evaluate").get_builder()
    builder.code = code
    builder.model = results["model"]
    builder.configurations = unseen
    results, node = run_get_node(builder)
    spread = results["committee_spread"].get_array("energy_std_mev_per_atom")
    print("evaluate", node.pk, node.exit_status, "max committee spread (meV/atom):", spread.max())


if __name__ == "__main__":
    main(sys.argv[1])
