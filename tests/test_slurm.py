"""The cluster how-to (docs/howto/cluster.md) for real: a single-node Slurm from Debian's packages,
the computer and codes of ``examples/cluster/`` set up with ``verdi`` as the how-to says (local
transport instead of SSH), and a real ``HarmonicPhononWorkChain`` on fcc Al whose every job is an
``sbatch`` job; plus ``--computer`` of the launch commands."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest
from aiida import orm

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "cluster"
SLURM_SCRIPT = ROOT / "scripts" / "slurm_single_node.sh"
COMPUTER = "slurm-test"
QE_CODES = ("pw", "ph", "q2r", "matdyn")

pytestmark = [pytest.mark.qe, pytest.mark.slurm]


def _slurm_running() -> bool:
    return shutil.which("sinfo") is not None and (
        subprocess.run(["sinfo", "-h"], capture_output=True, check=False).returncode == 0
    )


@pytest.fixture(scope="module")
def slurm():
    """A running single-node Slurm: started here (and stopped after) unless one is running."""
    if _slurm_running():
        yield
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("a single-node Slurm needs root and apt-get (scripts/slurm_single_node.sh)")
    result = subprocess.run(
        ["bash", str(SLURM_SCRIPT), "start"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield
    subprocess.run(["bash", str(SLURM_SCRIPT), "stop"], capture_output=True, check=False)


def _verdi(command, args: list[str]) -> str:
    """A ``verdi`` subcommand in this process, on the test profile (what ``verdi`` passes it)."""
    from aiida.common import AttributeDict
    from aiida.manage import get_config, get_profile
    from click.testing import CliRunner

    context = AttributeDict({"config": get_config(), "profile": get_profile()})
    result = CliRunner().invoke(command, args, obj=context, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def slurm_computer(slurm, aiida_profile, clathrate_setup, tmp_path_factory):
    """The how-to's computer and codes, set up with ``verdi`` from the files in examples/cluster."""
    from aiida.cmdline.commands.cmd_code import code_create
    from aiida.cmdline.commands.cmd_computer import computer_configure, computer_setup

    work_dir = tmp_path_factory.mktemp("slurm-work")
    _verdi(
        computer_setup,
        [
            "--non-interactive",
            "--config",
            str(EXAMPLES / "computer-slurm.yml"),
            "--label",
            COMPUTER,
            "--hostname",
            "localhost",
            "--transport",
            "core.local",
            "--work-dir",
            str(work_dir),
        ],
    )
    _verdi(
        computer_configure, ["core.local", COMPUTER, "--non-interactive", "--safe-interval", "0"]
    )
    computer = orm.load_computer(COMPUTER)
    computer.set_minimum_job_poll_interval(1.0)
    for name in QE_CODES:
        _verdi(
            code_create,
            [
                "core.code.installed",
                "--non-interactive",
                "--config",
                str(EXAMPLES / f"code-{name}.yml"),
                "--computer",
                COMPUTER,
                "--filepath-executable",
                shutil.which(f"{name}.x"),
            ],
        )
    return computer


def test_example_files_name_every_code():
    names = {path.stem.removeprefix("code-") for path in EXAMPLES.glob("code-*.yml")}
    assert names == {*QE_CODES, "clathrate-sscha", "clathrate-mlp"}


def test_harmonic_workchain_runs_through_slurm(slurm_computer, aluminium):
    from aiida.engine import run_get_node
    from conftest import TINY_HARMONIC_OVERRIDES

    from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

    codes = {name: f"{name}@{COMPUTER}" for name in QE_CODES}
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        codes, aluminium, "fast", overrides=TINY_HARMONIC_OVERRIDES, relax=False
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    jobs = [n for n in node.called_descendants if isinstance(n, orm.CalcJobNode)]
    assert {job.process_type.rsplit(".", 1)[-1] for job in jobs} >= {"pw", "ph", "matdyn"}
    for job in jobs:
        assert job.computer.label == COMPUTER and job.computer.scheduler_type == "core.slurm"
        assert job.get_job_id() is not None and job.get_job_id().isdigit()
        script = job.base.repository.get_object_content("_aiidasubmit.sh")
        assert "#SBATCH" in script and "#SBATCH --partition=debug" in script
    assert node.outputs.min_frequency_cm1.value > 0  # fcc Al is stable


def test_launch_names_a_missing_code_on_another_computer(slurm_computer):
    """`--computer` takes NAME@COMPUTER; a missing code (here the SSCHA minimiser) is named before
    anything is stored."""
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(
        cmd_root, ["launch", "compound", "K", "Rb", "--computer", COMPUTER, "--protocol", "fast"]
    )
    assert result.exit_code != 0
    assert f"missing code(s) clathrate-sscha@{COMPUTER}" in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before
    result = CliRunner().invoke(cmd_root, ["launch", "harmonic", "Sr", "--computer", "nowhere"])
    assert result.exit_code != 0 and "--computer nowhere: no such computer" in result.output
