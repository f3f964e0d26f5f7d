"""Faults a user's run meets, injected for real: daemon workers killed mid-run, a pw.x that fails
a fixed share of its runs in an SSCHA population. (The compound archive round trip is in
``test_compound_qe.py``, beside the compound it exports; the restart wrappers' own failures in
``test_restart_wrappers.py``.)"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import stat
import sys
import time

import numpy as np
import pytest
from aiida import orm

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_sscha_kernel import spring_force_constants  # noqa: E402

pytestmark = pytest.mark.qe


# ---- SIGKILL of the daemon workers -----------------------------------------------------------
def _workers(client) -> list:
    """The daemon's worker processes (``verdi ... daemon worker``), children of circus."""
    import psutil

    pid = client.get_daemon_pid()
    if pid is None:
        return []
    return [p for p in psutil.Process(pid).children(recursive=True) if _is_worker(p)]


def _is_worker(process) -> bool:
    """A daemon worker; job processes that ended (zombies) or are gone are not."""
    import psutil

    try:
        return "worker" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _kill_workers_when(client, node, reached, timeout_s: float = 300) -> str:
    """SIGKILL every daemon worker as soon as ``reached(node)`` is true; name the point."""
    deadline = time.monotonic() + timeout_s
    while not reached(node):
        assert not node.is_terminated, f"{node.process_label} ended before the kill point"
        assert time.monotonic() < deadline, "kill point not reached in time"
        time.sleep(0.2)
    killed = _workers(client)
    assert killed, "no daemon worker to kill"
    for process in killed:
        process.send_signal(signal.SIGKILL)
    return f"{len(killed)} worker(s)"


def _submitted(node, plugin: str) -> bool:
    """Whether a CalcJob of ``plugin`` under ``node`` has reached the scheduler (has a job id)."""
    return any(n.get_job_id() is not None for n in _calcjobs(node, plugin))


def _calcjobs(node, plugin: str) -> list:
    return [
        n
        for n in node.called_descendants
        if isinstance(n, orm.CalcJobNode) and n.process_type == f"aiida.calculations:{plugin}"
    ]


@pytest.mark.daemon
def test_killed_daemon_workers_give_the_undisturbed_result(
    aiida_profile,
    qe_codes,
    aluminium,
    tiny_harmonic_overrides,
    started_daemon_client,
    submit_and_await,
):
    """The harmonic work chain on fcc Al (three q-points as ph.x jobs) with every daemon worker
    SIGKILLed twice: once when a ph.x job has reached the scheduler, once when a matdyn.x job has.
    The processes resume on the respawned workers from their checkpoints; the phonons equal those
    of an undisturbed run and no calculation runs twice. (A kill in the milliseconds between a
    child's creation and its parent's next checkpoint can run that child twice, aiida-core's
    at-least-once semantics: seen for a ph.x and a q2r.x when killed at creation; the results were
    the same. docs/restarts.md)"""
    from aiida.engine import run_get_node, submit
    from aiida.manage.caching import disable_caching

    from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        qe_codes, aluminium, "fast", overrides=tiny_harmonic_overrides, relax=False
    )
    with disable_caching():
        _, reference = run_get_node(builder)
    assert reference.is_finished_ok, reference.exit_message

    client = started_daemon_client
    with disable_caching():
        node = submit(builder)
        _kill_workers_when(client, node, lambda n: _submitted(n, "quantumespresso.ph"))
        _kill_workers_when(client, node, lambda n: _submitted(n, "quantumespresso.matdyn"))
        node = submit_and_await(node, timeout=900)
    assert node.is_finished_ok, node.exit_message

    for plugin in ("quantumespresso.pw", "quantumespresso.ph", "clathrate.q2r"):
        assert len(_calcjobs(node, plugin)) == len(_calcjobs(reference, plugin)), plugin
        assert all(n.is_finished_ok for n in _calcjobs(node, plugin))
    np.testing.assert_allclose(
        node.outputs.phonon_bands.get_bands(),
        reference.outputs.phonon_bands.get_bands(),
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        node.outputs.phonon_dos.get_y()[0][1], reference.outputs.phonon_dos.get_y()[0][1], atol=1e-8
    )
    assert node.outputs.min_frequency_cm1.value == pytest.approx(
        reference.outputs.min_frequency_cm1.value, abs=1e-6
    )
    assert node.outputs.dynamically_stable.value == reference.outputs.dynamically_stable.value


# ---- a flaky pw.x in an SSCHA population -------------------------------------------------------
def flaky_pw(tmp_path: pathlib.Path, fail_every: int, fail_at: int) -> pathlib.Path:
    """pw.x that fails (no output, exit 1) on the runs whose count n (0, 1, ... under a lock)
    has ``n % fail_every == fail_at``: a fixed share of the runs, deterministic in number."""
    pw = shutil.which("pw.x")
    assert pw, "pw.x not on PATH"
    script = tmp_path / f"flaky-pw-{fail_every}-{fail_at}.sh"
    count = tmp_path / f"count-{fail_every}-{fail_at}"
    script.write_text(
        "#!/bin/bash\n"
        f'exec 9>"{count}.lock"; flock 9\n'
        f'n=$(cat "{count}" 2>/dev/null || echo 0); echo $((n + 1)) > "{count}"\n'
        "flock -u 9; exec 9>&-\n"
        f'if [ $((n % {fail_every})) -eq {fail_at} ]; then echo "injected pw.x failure" >&2; exit 1; fi\n'
        f'exec "{pw}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _sscha_al2_with(pw_code, n_configurations: int):
    """The 2-atom Al SSCHA population of the active-engine test (``_al2_dft_inputs``) with a
    given pw.x code, one population, 4 pw.x at a time."""
    from aiida.engine import run_get_node
    from aiida.manage.caching import disable_caching
    from test_sscha_active import _al2_dft_inputs

    from aiida_clathrate.data.dynamical_matrices import from_phonons
    from aiida_clathrate.sscha.dynamical_matrix import phonons_from_force_constants
    from aiida_clathrate.workflows.sscha import SschaWorkChain

    atoms, dft_inputs = _al2_dft_inputs({"pw": pw_code.full_label})
    matrices = from_phonons(phonons_from_force_constants(atoms, spring_force_constants(2.0)))
    with disable_caching():
        return run_get_node(
            SschaWorkChain,
            dynamical_matrices=matrices.store(),
            engine=orm.Str("dft"),
            population_sizes=orm.List([n_configurations]),
            max_populations=orm.Int(1),
            max_concurrent_dft=orm.Int(4),
            dft=dft_inputs,
            minimize={"code": orm.load_code("clathrate-sscha@localhost")},
        )


def _flaky_code(aiida_code_installed, script: pathlib.Path):
    return aiida_code_installed(
        default_calc_job_plugin="quantumespresso.pw", filepath_executable=str(script)
    )


def test_flaky_pw_drops_failed_configurations_with_their_partners(
    aiida_profile, clathrate_setup, qe_codes, aiida_code_installed, tmp_path
):
    """Every fourth pw.x run fails: 2 of 8 configurations; each takes its ± partner out, the
    minimisation runs on the rest and the report gives the count."""
    from aiida_clathrate.workflows.sscha import configurations_to_keep, dft_runs

    code = _flaky_code(aiida_code_installed, flaky_pw(tmp_path, fail_every=4, fail_at=1))
    results, node = _sscha_al2_with(code, 8)
    assert node.is_finished_ok, node.exit_status
    runs = {n.base.extras.get("sscha_configuration"): n for n in dft_runs(node).values()}
    failed = {i for i, run in runs.items() if not run.is_finished_ok}
    assert len(runs) == 8 and len(failed) == 2
    # four series of two pw.x each (max_concurrent_dft 4); a series with a failed run goes on to
    # its next configuration and ends with 401 naming it
    series = [n for n in node.called if n.process_label == "PwSeriesWorkChain"]
    assert len(series) == 4
    assert sorted(len(s.called) for s in series) == [2, 2, 2, 2]
    for s in series:
        failed_here = [n for n in s.called if not n.is_finished_ok]
        assert s.exit_status == (401 if failed_here else 0)
        if failed_here:
            assert f"{len(failed_here)} of 2 pw.x runs failed: dft_1_" in s.exit_message
    kept = configurations_to_keep(8, failed)
    assert len(kept) in (4, 6)  # two pairs, or one pair twice
    np.testing.assert_array_equal(results["populations"].get_array("n_configurations"), [len(kept)])
    reports = [log.message for log in orm.Log.collection.get_logs_for(node)]
    assert any(
        f"2 DFT configurations failed; dropped {8 - len(kept)} (with their +- partners), "
        f"{len(kept)} kept" in line
        for line in reports
    )


def test_pw_failing_everywhere_ends_with_a_count(
    aiida_profile, clathrate_setup, qe_codes, aiida_code_installed, tmp_path
):
    """Every pw.x run fails: exit 402 and a report line with how many failed and why."""
    code = _flaky_code(aiida_code_installed, flaky_pw(tmp_path, fail_every=1, fail_at=0))
    _, node = _sscha_al2_with(code, 4)
    assert node.exit_status == 402
    reports = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert "population 1: 4 of 4 DFT configurations failed (PwBaseWorkChain<" in reports
    assert "0 left with their +- partners, at least 2 needed" in reports
    assert os.path.exists(tmp_path / "count-1-0")


# ---- a ph.x job that fails among the q-point jobs ----------------------------------------------
def test_failed_qpoint_job_is_named_with_the_count(
    aiida_profile, qe_codes, aiida_code_installed, tmp_path
):
    """ph.x fails on the second irreducible q-point (its input asks start_q = 2): the DFPT stops
    with 403 and its report names the job and gives the count of failed q-point jobs."""
    from aiida.engine import run_get_node
    from ase.build import bulk
    from test_dfpt_qe import _inputs

    from aiida_clathrate.workflows.dfpt import DfptWorkChain

    ph = shutil.which("ph.x")
    script = tmp_path / "ph-fails-at-q2.sh"
    script.write_text(
        "#!/bin/bash\n"
        "if grep -qiE 'start_q *= *2\\b' aiida.in; then echo 'injected ph.x failure' >&2; exit 1; fi\n"
        f'exec "{ph}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    code = aiida_code_installed(
        default_calc_job_plugin="quantumespresso.ph", filepath_executable=str(script)
    )
    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    inputs = _inputs(qe_codes, structure, electron_phonon=False)
    inputs["ph"]["ph"]["code"] = code
    _, node = run_get_node(DfptWorkChain, structure=structure, **inputs)
    assert node.exit_status == 403
    assert "1 of 3 ph.x jobs failed (q_2: PhBaseWorkChain<" in node.exit_message
    reports = "\n".join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert "1 of 3 ph.x jobs failed (q_2: PhBaseWorkChain<" in reports
