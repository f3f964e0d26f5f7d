"""``aiida-clathrate setup``: computer, codes and pseudopotential family, idempotently."""

from __future__ import annotations

import os

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root
from aiida_clathrate.localhost import QE_CODES
from aiida_clathrate.pseudo_family import CUTOFFS_RY_BY_PROTOCOL, SHIPPED_FAMILY_LABEL


def test_setup_creates_then_reuses(clathrate_setup):
    labels = {item.label for item in clathrate_setup}
    for name in QE_CODES:
        assert f"{name}@localhost" in labels
    assert SHIPPED_FAMILY_LABEL in labels
    runner = CliRunner()
    result = runner.invoke(cmd_root, ["setup"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 created" in result.output
    assert "exists" in result.output and "created " not in result.output.replace("0 created", "")


def test_shipped_family_has_cutoffs_per_protocol(clathrate_setup):
    family = orm.load_group(SHIPPED_FAMILY_LABEL)
    assert {"B", "C", "K", "Rb", "Sr", "Pb", "La"} <= set(family.elements)
    assert "H" not in family.elements
    for protocol, expected in CUTOFFS_RY_BY_PROTOCOL.items():
        cutoffs = family.get_recommended_cutoffs(
            elements=("K", "B"), stringency=protocol, unit="Ry"
        )
        assert cutoffs == (expected["cutoff_wfc"], expected["cutoff_rho"])


def test_codes_use_mpirun_only_when_asked(clathrate_setup):
    from aiida_clathrate.workflows.common import calcjob_options

    assert calcjob_options(1)["withmpi"] is False
    assert calcjob_options(2)["withmpi"] is True
    with pytest.raises(ValueError, match="0"):
        calcjob_options(0)
    code = orm.load_code("pw@localhost")
    assert str(code.filepath_executable).endswith("pw.x")
    assert "OMP_NUM_THREADS=1" in code.prepend_text
    if os.geteuid() == 0:
        assert "OMPI_ALLOW_RUN_AS_ROOT=1" in code.computer.get_prepend_text()


def test_unknown_family_gives_install_hint(clathrate_setup):
    runner = CliRunner()
    result = runner.invoke(cmd_root, ["setup", "--pseudo-family", "SSSP/1.3/PBE/efficiency"])
    assert result.exit_code != 0
    assert "aiida-pseudo install" in result.output


def test_localhost_mpirun_does_not_bind_cores(clathrate_setup):
    """Jobs of the direct scheduler run side by side; bound, each mpirun would start at core 0."""
    from aiida_clathrate.localhost import DEFAULT_MPIRUN_COMMAND, MPIRUN_COMMAND, setup_localhost

    computer = orm.load_computer("localhost")
    assert computer.get_mpirun_command() == MPIRUN_COMMAND
    computer.set_mpirun_command(DEFAULT_MPIRUN_COMMAND)  # as `verdi presto` leaves it
    items = setup_localhost()
    assert computer.get_mpirun_command() == MPIRUN_COMMAND
    assert next(item for item in items if item.kind == "computer").created
    computer.set_mpirun_command(["srun"])  # a user's own command is kept
    setup_localhost()
    assert computer.get_mpirun_command() == ["srun"]
    computer.set_mpirun_command(MPIRUN_COMMAND)


def test_localhost_polls_the_direct_scheduler_every_half_second(clathrate_setup):
    from aiida_clathrate.localhost import POLL_INTERVAL_S, setup_localhost

    computer = orm.load_computer("localhost")
    assert computer.get_minimum_job_poll_interval() == POLL_INTERVAL_S == 0.5
    computer.set_minimum_job_poll_interval(1.0)  # as `verdi presto` leaves it
    setup_localhost()
    assert computer.get_minimum_job_poll_interval() == POLL_INTERVAL_S
    computer.set_minimum_job_poll_interval(0.1)  # shorter: kept
    setup_localhost()
    assert computer.get_minimum_job_poll_interval() == 0.1
    computer.set_minimum_job_poll_interval(POLL_INTERVAL_S)


def test_cores_shared_only_on_one_machine(clathrate_setup):
    from aiida_clathrate.workflows.common import calcjob_options, kpoint_pools, share_cores

    localhost = orm.load_computer("localhost")
    options = calcjob_options(4)
    assert share_cores(options, localhost, 2)["resources"]["num_mpiprocs_per_machine"] == 2
    assert share_cores(options, localhost, 2)["withmpi"] is True
    single = share_cores(options, localhost, 8)
    assert single["resources"]["num_mpiprocs_per_machine"] == 1 and single["withmpi"] is False
    assert share_cores(options, localhost, 1) == options
    assert options["resources"]["num_mpiprocs_per_machine"] == 4  # not modified in place
    cluster = orm.Computer(
        label="cluster-share-cores",
        hostname="c",
        transport_type="core.local",
        scheduler_type="core.slurm",
    )
    assert share_cores(options, cluster, 4) == options
    assert kpoint_pools(2, 4) == 2
    assert kpoint_pools(6, 4) == 3
    assert kpoint_pools(4, 1) == 1
    with pytest.raises(ValueError):
        kpoint_pools(0, 4)
