"""The restart wrappers of the project's CalcJobs (``workflows/restart.py``) on injected failures.

The failures are real where they can be had cheaply: a training with a learning rate that
diverges, a job killed before it writes its results. The script error of a broken acoustic sum
rule needs a KRbB6C6 run of minutes, so a wrapper script around the real executable prints that
error on the first run (a mock of that failure path only; the rerun is the real minimisation).
Scheduler verdicts (out of memory 110, out of walltime 120) cannot come from the direct
scheduler: their handlers are called on a failed CalcJobNode.
"""

from __future__ import annotations

import pathlib
import stat
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_mlp_aiida import TINY_PARAMETERS  # noqa: E402
from test_sscha_aiida import _label, harmonic_folder  # noqa: E402, F401

BIN = pathlib.Path(sys.executable).parent
SSCHA = BIN / "aiida-clathrate-sscha"
MLP = BIN / "aiida-clathrate-mlp"


def _script(path: pathlib.Path, body: str) -> pathlib.Path:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def killed_first_time(tmp_path: pathlib.Path, real: pathlib.Path, name: str) -> pathlib.Path:
    """A code killed (SIGKILL, no results written) on its first run, the real one afterwards."""
    marker = tmp_path / f"{name}.ran"
    return _script(
        tmp_path / name,
        f'if [ ! -e "{marker}" ]; then touch "{marker}"; kill -9 $$; fi\nexec "{real}" "$@"\n',
    )


def _reports(node) -> list[str]:
    from aiida import orm

    return [log.message for log in orm.Log.collection.get_logs_for(node)]


def _children(node) -> list:
    return sorted(node.called, key=lambda n: n.pk)


@pytest.fixture(scope="module")
def frames(shared_dir):
    from aiida_clathrate.mlp import read_frames

    return read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:12")


def test_diverged_training_runs_again_with_smaller_learning_rates(
    aiida_profile, aiida_code_installed, frames
):
    """learning_rate 1e3 and 1e2 give non-finite losses on these frames (measured); 10 does not."""
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import WorkflowFactory

    from aiida_clathrate.data.configurations import ConfigurationSetData

    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.mlp.train", filepath_executable=str(MLP)
    )
    builder = WorkflowFactory("clathrate.mlp.train.base").get_builder()
    builder.mlp.code = code
    builder.mlp.configurations = {"set": ConfigurationSetData(frames=frames)}
    builder.mlp.parameters = orm.Dict(
        {**TINY_PARAMETERS, "learning_rate": 1e3, "finetune_learning_rate": 1e3}
    )
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_status
    runs = _children(node)
    assert [run.exit_status for run in runs] == [340, 340, 0]
    assert "non-finite loss" in runs[0].exit_message
    last = runs[-1].inputs.parameters.get_dict()
    assert last["learning_rate"] == pytest.approx(10.0)
    assert last["finetune_learning_rate"] == pytest.approx(10.0)
    assert "model" in results and "metrics" in results
    reports = _reports(node)
    assert any("learning_rate 1e+03 -> 100" in line for line in reports)


def test_killed_evaluation_runs_again_once(aiida_profile, aiida_code_installed, frames, tmp_path):
    """A job killed before it wrote its results (300) is run again unchanged; killed every time
    it stops with 311 after two runs."""
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import WorkflowFactory

    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp.training import TrainingSettings, train_committee

    model_path = tmp_path / "model.pt"
    settings = TrainingSettings.from_dict({**TINY_PARAMETERS, "max_epochs": 1})
    train_committee(frames, settings).committee.save(model_path)
    from aiida_clathrate.data.model import MlpModelData

    model = MlpModelData(file=str(model_path))
    configurations = ConfigurationSetData(frames=frames[:3])

    def evaluate(executable: pathlib.Path):
        code = aiida_code_installed(
            default_calc_job_plugin="clathrate.mlp.evaluate", filepath_executable=str(executable)
        )
        builder = WorkflowFactory("clathrate.mlp.evaluate.base").get_builder()
        builder.mlp.code = code
        builder.mlp.model = model
        builder.mlp.configurations = configurations
        return run_get_node(builder)

    results, node = evaluate(killed_first_time(tmp_path, MLP, "mlp-killed-once"))
    assert node.is_finished_ok, node.exit_status
    assert [run.exit_status for run in _children(node)] == [300, 0]
    assert results["configurations"].n_configurations == 3
    assert any("running it again unchanged" in line for line in _reports(node))

    _, node = evaluate(_script(tmp_path / "mlp-killed", "kill -9 $$\n"))
    assert node.exit_status == 311
    assert [run.exit_status for run in _children(node)] == [300, 300]
    assert "ended 2 times without its results" in node.exit_message
    assert any("ended 2 times" in line for line in _reports(node))
    assert isinstance(node.exit_message, str) and orm.load_node(node.pk).is_failed


def _minimize_builder(code, matrices):
    from aiida import orm
    from aiida.plugins import WorkflowFactory

    from aiida_clathrate.calculations.sscha import attach_results, generate_population

    ensemble = generate_population(
        matrices, orm.Float(0.0), orm.Int(40), orm.Int(3), orm.Bool(False)
    )["ensemble"]
    builder = WorkflowFactory("clathrate.sscha.minimize.base").get_builder()
    builder.sscha.code = code
    builder.sscha.ensemble = attach_results(ensemble, _label(ensemble))
    builder.sscha.dynamical_matrices = matrices
    builder.sscha.temperature_kelvin = orm.Float(0.0)
    builder.sscha.settings = orm.Dict({"kong_liu_ratio": 0.3})
    return builder


def test_broken_acoustic_sum_rule_switches_to_sqrt(
    harmonic_folder,  # noqa: F811
    aiida_code_installed,
    tmp_path,
):
    from aiida.engine import run_get_node

    wrapper = _script(
        tmp_path / "sscha-asr",
        'if ! grep -q \'"root_representation": "sqrt"\' settings.json; then\n'
        '  echo "aiida-clathrate-sscha: error: the matrix does not satisfy the acoustic sum rule'
        ' (injected)" >&2\n'
        "  exit 2\n"
        "fi\n"
        f'exec "{SSCHA}" "$@"\n',
    )
    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize", filepath_executable=str(wrapper)
    )
    results, node = run_get_node(_minimize_builder(code, harmonic_folder))
    assert node.is_finished_ok, node.exit_status
    runs = _children(node)
    assert [run.exit_status for run in runs] == [320, 0]
    assert results["settings"].get_dict() == {"kong_liu_ratio": 0.3, "root_representation": "sqrt"}
    assert results["settings"].uuid == runs[1].inputs.settings.uuid
    assert "frequencies_cm1" in results and "dynamical_matrices" in results
    assert any("root_representation 'sqrt'" in line for line in _reports(node))


def test_script_error_without_remedy_stops_at_once(
    harmonic_folder,  # noqa: F811
    aiida_code_installed,
    tmp_path,
):
    from aiida.engine import run_get_node

    wrapper = _script(
        tmp_path / "sscha-error",
        'echo "aiida-clathrate-sscha: error: injected failure with no remedy" >&2\nexit 2\n',
    )
    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize", filepath_executable=str(wrapper)
    )
    _, node = run_get_node(_minimize_builder(code, harmonic_folder))
    assert node.exit_status == 310
    assert len(node.called) == 1  # a deterministic error is not run twice
    assert "injected failure with no remedy" in node.exit_message
    assert "SschaMinimizeCalculation<" in node.exit_message
    assert any("injected failure with no remedy" in line for line in _reports(node))


# ---- handlers of scheduler verdicts, on a failed CalcJobNode ------------------------------
def _failed_node(label: str, status: int, message: str = ""):
    from aiida import orm

    node = orm.CalcJobNode()
    node.set_process_label(label)
    node.set_process_state("finished")
    node.set_exit_status(status)
    node.set_exit_message(message)
    return node


def _instantiate(process_class, **inputs):
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    process = instantiate_process(get_manager().get_runner(), process_class, **inputs)
    process.setup()
    return process


@pytest.fixture
def train_inputs(aiida_profile, aiida_code_installed, frames):
    from aiida import orm

    from aiida_clathrate.data.configurations import ConfigurationSetData

    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.mlp.train", filepath_executable=str(MLP)
    )
    return {
        "mlp": {
            "code": code,
            "configurations": {"set": ConfigurationSetData(frames=frames[:4])},
            "parameters": orm.Dict({"committee_size": 4}),
            "metadata": {"options": {"max_wallclock_seconds": 1000}},
        }
    }


def test_training_out_of_memory_and_walltime_handlers(train_inputs):
    from aiida_clathrate.workflows.restart import MlpTrainBaseWorkChain

    process = _instantiate(MlpTrainBaseWorkChain, **train_inputs)
    report = process.handle_out_of_memory(_failed_node("MlpTrainCalculation", 110))
    assert report.do_break and report.exit_code.status == 0
    assert process.ctx.inputs.parameters["jacobian_memory_limit_gb"] == 0
    # nothing left to drop: the generic handler stops with 312
    assert process.handle_out_of_memory(_failed_node("MlpTrainCalculation", 110)) is None
    report = process.handle_script_failure(_failed_node("MlpTrainCalculation", 110))
    assert report.exit_code.status == 312

    report = process.handle_out_of_walltime(_failed_node("MlpTrainCalculation", 120))
    assert report.exit_code.status == 0
    # 0.8 of 1000 s shared by 4 members
    assert process.ctx.inputs.parameters["max_time_per_member_s"] == pytest.approx(200.0)
    # the limit fits already: the walltime itself is doubled
    process.handle_out_of_walltime(_failed_node("MlpTrainCalculation", 120))
    assert process.ctx.inputs.metadata.options.max_wallclock_seconds == 2000


def test_hessian_out_of_memory_drops_v4(
    harmonic_folder,  # noqa: F811
    aiida_code_installed,
):
    from aiida import orm

    from aiida_clathrate.workflows.restart import SschaMinimizeBaseWorkChain

    code = aiida_code_installed(
        default_calc_job_plugin="clathrate.sscha.minimize", filepath_executable=str(SSCHA)
    )
    builder = _minimize_builder(code, harmonic_folder)
    inputs = {"sscha": dict(builder.sscha)}
    process = _instantiate(SschaMinimizeBaseWorkChain, **inputs)
    # without the Hessian there is nothing to drop
    assert process.handle_out_of_memory(_failed_node("SschaMinimizeCalculation", 110)) is None
    inputs["sscha"]["compute_hessian"] = orm.Bool(True)
    process = _instantiate(SschaMinimizeBaseWorkChain, **inputs)
    report = process.handle_out_of_memory(_failed_node("SschaMinimizeCalculation", 110))
    assert report.exit_code.status == 0
    assert process.ctx.inputs.hessian_include_v4.value is False
    # no walltime set: out of walltime stops with 313
    report = process.handle_out_of_walltime(_failed_node("SschaMinimizeCalculation", 120))
    assert report.exit_code.status == 313


@pytest.mark.parametrize("program", ["mlp", "sscha"])
def test_memory_error_of_the_scripts_is_exit_110(aiida_profile, monkeypatch, capsys, program):
    """A MemoryError in a console script becomes the scheduler's out-of-memory exit (110), which
    the wrappers' memory handlers take; another error stays the script's own exit."""
    import argparse
    import types

    from aiida_clathrate.calculations.mlp import MlpEvaluateCalculation
    from aiida_clathrate.calculations.sscha import SschaMinimizeCalculation
    from aiida_clathrate.mlp import cli as mlp_cli
    from aiida_clathrate.parsers.common import failed_script_exit_code, script_error
    from aiida_clathrate.sscha import cli as sscha_cli

    cli, calc = {
        "mlp": (mlp_cli, MlpEvaluateCalculation),
        "sscha": (sscha_cli, SschaMinimizeCalculation),
    }[program]

    def exhausted(_args):
        raise MemoryError("cannot allocate 42 GiB")

    parser = cli.build_parser()
    args = argparse.Namespace(handler=exhausted, threads=1)
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 3
    error = script_error(capsys.readouterr().err, f"aiida-clathrate-{program}")
    assert "cannot allocate 42 GiB" in error
    fake_parser = types.SimpleNamespace(exit_codes=calc.exit_codes)
    assert failed_script_exit_code(fake_parser, error).status == 110
    assert failed_script_exit_code(fake_parser, "bad value").status in (320, 330)
    assert failed_script_exit_code(fake_parser, "") is None
