"""Daemon workers SIGKILLed at several points of a whole compound run: same results, no job twice.

Run (the daemon of the profile running, caching off, a finished compound to compare with, e.g.
the one of `make demo`):

    AIIDA_PATH=$PWD/.aiida .venv/bin/python benchmarks/faults.py PK [-p PROFILE]

The compound's inputs are submitted again (``get_builder_restart``). Every daemon worker is
SIGKILLed as soon as each kill point is reached, in this order: the harmonic relax's pw.x at the
scheduler, the harmonic ph.x (a q-point job or the only one) at the scheduler, an SSCHA pw.x at
the scheduler, an SSCHA minimiser at the scheduler, and a matdyn.x of the anharmonic
electron-phonon step at the scheduler. A point the run has passed already is skipped and said
so. Then the script waits for the end and
compares with the reference: the summary (every number, exactly), the stability verdict and the
number of CalcJobs of each plugin (a larger count means that a job ran twice). A job "at the
scheduler" has a job id: its parent's checkpoint is long written (docs/restarts.md, on killing
workers at a child's creation). The fast test of the same is
``tests/test_faults.py::test_killed_daemon_workers_give_the_undisturbed_result``.
"""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import time
from collections.abc import Callable

import psutil
from aiida import load_profile, orm
from aiida.common.links import LinkType
from aiida.engine.daemon.client import get_daemon_client


def call_labels(node: orm.ProcessNode) -> list[str]:
    """The CALL link labels from the top-level process down to ``node``."""
    labels = []
    while node is not None:
        link = node.base.links.get_incoming(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK))
        entry = link.first()
        if entry is None:
            break
        labels.append(entry.link_label)
        node = entry.node
    return labels[::-1]


def at_scheduler(plugin: str, label_test: Callable[[list[str]], bool] = lambda _: True):
    """A kill point: a CalcJob of ``plugin`` with a job id whose call labels pass ``label_test``."""

    def reached(root: orm.ProcessNode) -> bool:
        return any(
            isinstance(n, orm.CalcJobNode)
            and n.process_type == f"aiida.calculations:{plugin}"
            and n.get_job_id() is not None
            and label_test(call_labels(n))
            for n in root.called_descendants
        )

    return reached


KILL_POINTS = [
    ("harmonic relax pw.x", at_scheduler("quantumespresso.pw", lambda ls: "relax" in ls)),
    ("harmonic ph.x", at_scheduler("quantumespresso.ph", lambda ls: "harmonic" in ls)),
    (
        "SSCHA pw.x",
        at_scheduler("quantumespresso.pw", lambda ls: any(x.startswith("dft_") for x in ls)),
    ),
    ("SSCHA minimiser", at_scheduler("clathrate.sscha.minimize")),
    (
        "anharmonic EPC matdyn.x",
        at_scheduler("quantumespresso.matdyn", lambda ls: "epc_anharmonic" in ls),
    ),
]


def workers(client) -> list[psutil.Process]:
    pid = client.get_daemon_pid()
    if pid is None:
        return []
    return [p for p in psutil.Process(pid).children(recursive=True) if is_worker(p)]


def is_worker(process: psutil.Process) -> bool:
    """A daemon worker (``verdi ... daemon worker``); gone or zombie job processes are not."""
    try:
        return "worker" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def calcjob_counts(root: orm.ProcessNode) -> collections.Counter:
    return collections.Counter(
        n.process_type for n in root.called_descendants if isinstance(n, orm.CalcJobNode)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pk", type=int, help="a finished compound work chain to compare with")
    parser.add_argument("-p", "--profile", default=None)
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds to wait in all")
    parser.add_argument(
        "--attach",
        type=int,
        default=None,
        help="a rerun submitted earlier (e.g. by a run of this script that stopped): the kill "
        "points it has reached already are skipped",
    )
    args = parser.parse_args()
    profile = load_profile(args.profile)
    from aiida.engine import submit
    from aiida.manage.configuration import get_config

    if get_config().get_option("caching.default_enabled", scope=profile.name):
        print("caching is on in this profile: the rerun would be cached, not run", file=sys.stderr)
        return 2
    client = get_daemon_client(profile.name)
    if not client.is_daemon_running:
        print("the daemon is not running: verdi daemon start", file=sys.stderr)
        return 2
    reference = orm.load_node(args.pk)
    if not reference.is_finished_ok:
        print(f"{reference.process_label}<{reference.pk}> did not finish ok", file=sys.stderr)
        return 2
    if args.attach is None:
        node = submit(reference.get_builder_restart())
        print(f"submitted {node.process_label}<{node.pk}> with the inputs of <{reference.pk}>")
        passed = set()
    else:
        node = orm.load_node(args.attach)
        passed = {name for name, reached in KILL_POINTS if reached(node)}
        print(f"attached to {node.process_label}<{node.pk}>; passed already: {sorted(passed)}")
    start = time.monotonic()
    print(f"{'kill point':<26}{'t/s':>8}  workers")
    for index, (name, reached) in enumerate(KILL_POINTS):
        if name in passed:
            continue
        later = [test for _, test in KILL_POINTS[index + 1 :]]
        while not reached(node) and not node.is_terminated:
            if any(test(node) for test in later):
                break
            if time.monotonic() - start > args.timeout:
                print("timeout", file=sys.stderr)
                return 1
            time.sleep(0.5)
        if not reached(node) or node.is_terminated:
            print(f"{name:<26}{'-':>8}  not reached (the run passed it or ended)")
            continue
        killed = workers(client)
        for process in killed:
            process.send_signal(signal.SIGKILL)
        print(f"{name:<26}{time.monotonic() - start:>8.1f}  {len(killed)} SIGKILLed")
    while not node.is_terminated:
        if time.monotonic() - start > args.timeout:
            print("timeout", file=sys.stderr)
            return 1
        time.sleep(2.0)
    print(
        f"{node.process_label}<{node.pk}> ended after {time.monotonic() - start:.0f} s, exit {node.exit_status}"
    )
    same = node.is_finished_ok
    summary, expected = node.outputs.summary.get_dict(), reference.outputs.summary.get_dict()
    differing = sorted(k for k in set(summary) | set(expected) if summary.get(k) != expected.get(k))
    print(f"summary: {len(expected)} entries, differing: {differing or 'none'}")
    same &= not differing
    counts, reference_counts = calcjob_counts(node), calcjob_counts(reference)
    for plugin in sorted(set(counts) | set(reference_counts)):
        mark = "" if counts[plugin] == reference_counts[plugin] else "  <- differs"
        print(
            f"  {plugin.split(':')[-1]:<32}{counts[plugin]:>4} (reference {reference_counts[plugin]}){mark}"
        )
        same &= counts[plugin] == reference_counts[plugin]
    print("identical results, no job twice" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
