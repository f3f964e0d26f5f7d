"""AiiDA layer of the MLP: data plugins and the train/evaluate CalcJobs run on localhost."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

EXECUTABLE = pathlib.Path(sys.executable).parent / "aiida-clathrate-mlp"
TINY_PARAMETERS = {
    "radial_order": 4,
    "angular_order": 3,
    "radial_cutoff_angstrom": 5.0,
    "angular_cutoff_angstrom": 3.5,
    "token_dim": 8,
    "n_heads": 2,
    "hidden": [16],
    "committee_size": 2,
    "max_epochs": 4,
    "finetune_epochs": 2,
    "batch_size": 4,
}


@pytest.fixture(scope="module")
def frames(shared_dir):
    from aiida_clathrate.mlp import read_frames

    return read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:16")


def test_configuration_set_roundtrip(aiida_profile, frames, tmp_path):
    from aiida.orm import load_node

    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp import frame_to_atoms

    frames = list(frames[:5])
    frames[2].stress_ev_per_angstrom3 = None
    node = ConfigurationSetData(frames=frames).store()
    loaded = load_node(node.pk)
    assert loaded.n_configurations == 5 and loaded.base.attributes.get("elements") == [
        "B",
        "C",
        "K",
        "Rb",
    ]
    back = loaded.to_frames()
    for a, b in zip(frames, back, strict=True):
        assert a.symbols == b.symbols and a.energy_ev == b.energy_ev
        np.testing.assert_array_equal(a.positions_angstrom, b.positions_angstrom)
        np.testing.assert_array_equal(a.forces_ev_per_angstrom, b.forces_ev_per_angstrom)
    assert back[2].stress_ev_per_angstrom3 is None
    np.testing.assert_array_equal(
        back[0].stress_ev_per_angstrom3, frames[0].stress_ev_per_angstrom3
    )
    # ASE and extxyz conversions
    via_ase = ConfigurationSetData.from_ase([frame_to_atoms(f) for f in frames])
    np.testing.assert_allclose(via_ase.get_array("forces"), node.get_array("forces"))
    path = tmp_path / "set.xyz"
    node.write_extxyz(path)
    via_file = ConfigurationSetData.from_extxyz(path)
    np.testing.assert_allclose(via_file.get_array("energies"), node.get_array("energies"))
    assert loaded.to_ase()[1].get_potential_energy() == pytest.approx(frames[1].energy_ev)
    with pytest.raises(ValueError, match="at least one"):
        ConfigurationSetData(frames=[])


def test_train_and_evaluate_calcjobs_on_localhost(aiida_profile, aiida_code_installed, frames):
    from aiida.engine import run_get_node
    from aiida.orm import Bool, Dict, Int, Str
    from aiida.plugins import CalculationFactory, DataFactory

    assert EXECUTABLE.is_file(), f"console script missing: {EXECUTABLE}"
    ConfigurationSetData = DataFactory("clathrate.configurations")
    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.mlp.train", filepath_executable=str(EXECUTABLE)
    )
    train = CalculationFactory("clathrate.mlp.train")
    builder = train.get_builder()
    builder.code = code
    builder.configurations = {
        "first": ConfigurationSetData(frames=frames[:6]),
        "second": ConfigurationSetData(frames=frames[6:12]),
    }
    builder.validation = ConfigurationSetData(frames=frames[12:])
    builder.parameters = Dict(TINY_PARAMETERS)
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_status
    metrics = results["metrics"].get_dict()["metrics"]
    assert metrics["train"]["n_configurations"] == 12
    assert metrics["validation"]["n_configurations"] == 4
    assert metrics["validation"]["forces_rmse_mev_per_angstrom"] > 0
    model = results["model"]
    assert model.base.attributes.get("committee_size") == 2
    # the spread reference comes from the 12 training configurations, not the validation ones
    assert model.spread_reference == metrics["committee_spread_reference"]
    assert model.spread_reference["n_configurations"] == 12
    # the default descriptor variants: the second member resolves angles by bond lengths
    orders = [d["angular_radial_order"] for d in model.base.attributes.get("member_descriptors")]
    assert orders == [0, 2]
    assert model.base.attributes.get("elements") == ["B", "C", "K", "Rb"]  # by atomic number
    kernel = model.base.attributes.get("kernel")  # the default kernel member
    assert kernel["weight"] == 0.5 and kernel["descriptor"]["angular_cutoff_angstrom"] == 3.5
    curve = results["learning_curve"]
    assert set(curve.get_array("member")) == {0, 1} and len(curve.get_array("epoch")) == 12
    assert list(curve.get_array("stage")) == ([1] * 4 + [2] * 2) * 2  # the fine-tune: stage 2

    evaluate = CalculationFactory("clathrate.mlp.evaluate")
    builder = evaluate.get_builder()
    builder.code = code  # one code serves both CalcJobs
    builder.model = model
    builder.configurations = ConfigurationSetData(frames=frames[12:])
    builder.member_forces = Bool(True)
    builder.num_workers = Int(2)  # two processes, two configurations each
    ports = evaluate.spec().inputs
    assert "float32 or float64" in str(ports["dtype"].validate(Str("float16")))
    assert "at least 1" in str(ports["num_workers"].validate(Int(0)))
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_status
    labelled = results["configurations"].to_frames()
    spread = results["committee_spread"]
    potential = model.load_potential()
    for frame, original in zip(labelled, frames[12:], strict=True):
        expected = potential.predict_frame(original)
        assert frame.energy_ev == pytest.approx(expected.energy_ev, abs=1e-6)
        np.testing.assert_allclose(
            frame.forces_ev_per_angstrom, expected.forces_ev_per_angstrom, atol=1e-6
        )
    assert spread.get_array("energy_std_ev").shape == (4,)
    assert spread.get_array("committee_energies_ev").shape == (4, 2)
    kernel_energies = [potential.predict_frame(f).kernel_energy_ev for f in frames[12:]]
    np.testing.assert_allclose(spread.get_array("kernel_energy_ev"), kernel_energies, atol=1e-6)
    assert np.all(spread.get_array("max_force_std_ev_per_angstrom") > 0)


def test_train_calcjob_rejects_bad_parameters(aiida_profile, aiida_code_installed, frames):
    from aiida.orm import Dict
    from aiida.plugins import CalculationFactory, DataFactory

    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.mlp.train", filepath_executable=str(EXECUTABLE)
    )
    builder = CalculationFactory("clathrate.mlp.train").get_builder()
    builder.code = code
    builder.configurations = {"a": DataFactory("clathrate.configurations")(frames=frames[:3])}
    with pytest.raises(ValueError, match="not_a_setting"):
        builder.parameters = Dict({"not_a_setting": 1})


def _script(folder, *arguments: str):
    """Run the console script in ``folder``; the finished process."""
    import subprocess

    return subprocess.run(
        [str(EXECUTABLE), *arguments], cwd=folder, capture_output=True, text=True, timeout=120
    )


def test_console_script_without_aiida(frames, tmp_path):
    from aiida_clathrate.mlp import read_frames, write_frames

    write_frames(tmp_path / "train.xyz", frames[:10])
    write_frames(tmp_path / "test.xyz", frames[10:13])
    (tmp_path / "p.json").write_text(json.dumps(TINY_PARAMETERS | {"committee_size": 1}))
    run = _script(tmp_path, "train", "--train", "train.xyz", "--parameters", "p.json")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "model.pt").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert metrics["validation"]["n_configurations"] == 1
    evaluate = ("evaluate", "--model", "model.pt", "--input", "test.xyz")
    run = _script(tmp_path, *evaluate)
    assert run.returncode == 0, run.stderr
    spread = json.loads((tmp_path / "spread.json").read_text())
    assert spread["n_configurations"] == 3
    # the same configurations over two worker processes: the same labels, in the same order
    run = _script(
        tmp_path, *evaluate, "--workers", "2", "--output", "two.xyz", "--spread", "two.json"
    )
    assert run.returncode == 0, run.stderr
    two = json.loads((tmp_path / "two.json").read_text())
    assert two["workers"] == 2
    for a, b in zip(spread["configurations"], two["configurations"], strict=True):
        assert a["energy_ev"] == pytest.approx(b["energy_ev"], abs=1e-9)
    for a, b in zip(
        read_frames(tmp_path / "labelled.xyz"), read_frames(tmp_path / "two.xyz"), strict=True
    ):
        np.testing.assert_allclose(a.forces_ev_per_angstrom, b.forces_ev_per_angstrom, atol=1e-9)
    run = _script(tmp_path, *evaluate, "--workers", "0")
    assert run.returncode == 2 and "workers" in run.stderr
    run = _script(tmp_path, "evaluate", "--model", "missing.pt", "--input", "test.xyz")
    assert run.returncode == 2 and "model file not found" in run.stderr


def test_cli_mlp_import(aiida_profile, frames, tmp_path):
    from aiida.orm import QueryBuilder
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root
    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp import write_frames

    write_frames(tmp_path / "few.xyz", frames[:3])
    result = CliRunner().invoke(
        cmd_root, ["mlp", "import", str(tmp_path / "few.xyz"), "--label", "few"]
    )
    assert result.exit_code == 0, result.output
    assert "with 3 configurations" in result.output
    nodes = QueryBuilder().append(ConfigurationSetData, filters={"label": "few"}).all(flat=True)
    assert len(nodes) == 1 and nodes[0].n_configurations == 3
