"""Idempotent set-up of the ``localhost`` computer, the codes and the pseudopotential family."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from aiida import orm
from aiida.common.exceptions import NotExistent

from .pseudo_family import SHIPPED_FAMILY_LABEL, install_shipped_family, load_family

COMPUTER_LABEL = "localhost"

#: Quantum ESPRESSO executables and the calculation plugin each code defaults to.
QE_CODES: dict[str, str] = {
    "pw": "quantumespresso.pw",
    "ph": "quantumespresso.ph",
    "q2r": "quantumespresso.q2r",
    "matdyn": "quantumespresso.matdyn",
    "dos": "quantumespresso.dos",
    "projwfc": "quantumespresso.projwfc",
}

#: The project's own console scripts, installed next to the Python interpreter.
PYTHON_CODES: dict[str, tuple[str, str]] = {
    "clathrate-mlp": ("aiida-clathrate-mlp", "clathrate.mlp.train"),
    "clathrate-sscha": ("aiida-clathrate-sscha", "clathrate.sscha.minimize"),
}


@dataclass(frozen=True)
class SetupItem:
    """One thing ``setup`` looked at: its kind, its label and whether it was created now."""

    kind: str
    label: str
    created: bool
    detail: str = ""


#: OpenMPI's mpirun refuses to run as root unless told it may (set on the computer, used by every code).
ROOT_MPI_ENVIRONMENT = "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
#: One OpenMP thread per MPI process.
CODE_PREPEND_TEXT = "export OMP_NUM_THREADS=1"


def _allow_root_mpirun(computer: orm.Computer) -> bool:
    """Add :data:`ROOT_MPI_ENVIRONMENT` to the computer's prepend text when running as root; True if added."""
    if os.geteuid() != 0 or ROOT_MPI_ENVIRONMENT in (computer.get_prepend_text() or ""):
        return False
    text = computer.get_prepend_text() or ""
    computer.set_prepend_text(f"{text}\n{ROOT_MPI_ENVIRONMENT}".strip())
    return True


#: mpirun without core binding: OpenMPI binds each mpirun's processes from core 0 up, so two jobs
#: of the direct scheduler running side by side would share the same cores and leave the others
#: idle (two single-process pw.x took 24 s each bound, 12 s unbound, on 2 cores).
MPIRUN_COMMAND = ["mpirun", "--bind-to", "none", "-np", "{tot_num_mpiprocs}"]
#: The command AiiDA (and ``verdi presto``) give a computer by default; replaced by the above.
DEFAULT_MPIRUN_COMMAND = ["mpirun", "-np", "{tot_num_mpiprocs}"]


#: Seconds between two polls of the direct scheduler (a `ps`); `verdi presto` sets 1 s. Every job
#: end waits half of it on average before it is retrieved.
POLL_INTERVAL_S = 0.5


def _shorten_poll_interval(computer: orm.Computer) -> bool:
    """Poll a direct-scheduler computer every :data:`POLL_INTERVAL_S` at most; True if changed."""
    if computer.scheduler_type != "core.direct":
        return False
    if computer.get_minimum_job_poll_interval() <= POLL_INTERVAL_S:
        return False
    computer.set_minimum_job_poll_interval(POLL_INTERVAL_S)
    return True


def _unbind_mpirun(computer: orm.Computer) -> bool:
    """Replace AiiDA's default mpirun command by :data:`MPIRUN_COMMAND`; True if replaced."""
    if list(computer.get_mpirun_command()) != DEFAULT_MPIRUN_COMMAND:
        return False
    computer.set_mpirun_command(MPIRUN_COMMAND)
    return True


def get_or_create_localhost(workdir: Path | None = None) -> tuple[orm.Computer, str]:
    """The ``localhost`` computer (local transport, direct scheduler), created when missing.

    :returns: the computer and ``"created"``, ``"updated"`` (mpirun as root, no core binding,
        polls every 0.5 s) or ``"exists"``.
    """
    try:
        computer = orm.load_computer(COMPUTER_LABEL)
        created = False
    except NotExistent:
        from aiida.manage.configuration.settings import AiiDAConfigDir

        workdir = workdir or Path(AiiDAConfigDir.get()) / "scratch"
        workdir.mkdir(parents=True, exist_ok=True)
        computer = orm.Computer(
            label=COMPUTER_LABEL,
            hostname="localhost",
            description="this machine (aiida-clathrate)",
            transport_type="core.local",
            scheduler_type="core.direct",
            workdir=str(workdir),
        ).store()
        computer.set_default_mpiprocs_per_machine(os.cpu_count() or 1)
        computer.set_mpirun_command(MPIRUN_COMMAND)
        computer.set_minimum_job_poll_interval(POLL_INTERVAL_S)
        created = True
    if not computer.is_configured:
        computer.configure(safe_interval=0.0)
        created = True
    # an existing computer (e.g. from `verdi presto`): mpirun as root allowed, cores unbound,
    # the direct scheduler polled every 0.5 s
    updated = [
        _allow_root_mpirun(computer),
        _unbind_mpirun(computer),
        _shorten_poll_interval(computer),
    ]
    if any(updated) and not created:
        return computer, "updated"
    return computer, "created" if created else "exists"


def _executable_path(name: str, python_dir: Path) -> Path | None:
    local = python_dir / name
    if local.exists():
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def get_or_create_code(
    computer: orm.Computer, label: str, executable: str, plugin: str, python_dir: Path
) -> SetupItem:
    """An ``InstalledCode`` ``label@computer`` for ``executable``; existing codes are left untouched."""
    full_label = f"{label}@{computer.label}"
    try:
        code = orm.load_code(full_label)
        return SetupItem("code", full_label, False, str(code.filepath_executable))
    except NotExistent:
        pass
    path = _executable_path(executable, python_dir)
    if path is None:
        return SetupItem("code", full_label, False, f"SKIPPED: executable {executable!r} not found")
    code = orm.InstalledCode(
        computer=computer,
        filepath_executable=str(path),
        label=label,
        default_calc_job_plugin=plugin,
        prepend_text=CODE_PREPEND_TEXT,
    ).store()
    return SetupItem("code", full_label, True, str(path))


def setup_localhost(pseudo_family: str = SHIPPED_FAMILY_LABEL) -> list[SetupItem]:
    """Create or reuse the computer, every code and the pseudopotential family; report what was done.

    A family other than the shipped one must exist already: checked first, so that nothing is
    stored when it does not (``ValueError`` with the install hint).
    """
    if pseudo_family != SHIPPED_FAMILY_LABEL:
        load_family(pseudo_family)
    computer, state = get_or_create_localhost()
    detail = computer.get_workdir() + (
        " (settings updated: mpirun, polling)" if state == "updated" else ""
    )
    items = [SetupItem("computer", computer.label, state != "exists", detail)]
    python_dir = Path(sys.executable).parent
    for label, plugin in QE_CODES.items():
        items.append(get_or_create_code(computer, label, f"{label}.x", plugin, python_dir))
    for label, (executable, plugin) in PYTHON_CODES.items():
        items.append(get_or_create_code(computer, label, executable, plugin, python_dir))
    if pseudo_family == SHIPPED_FAMILY_LABEL:
        family, created = install_shipped_family()
        items.append(
            SetupItem("pseudo family", family.label, created, f"{family.count()} pseudopotentials")
        )
    else:
        family = load_family(pseudo_family)
        items.append(
            SetupItem("pseudo family", family.label, False, f"{family.count()} pseudopotentials")
        )
    return items
