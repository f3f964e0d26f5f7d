"""Small helpers shared by the workchains: k-point meshes and CalcJob options."""

from __future__ import annotations

from typing import Any

from aiida import orm

from ..limits import mesh_error, raise_if

#: Sub-builder namespaces that protocol overrides may hold, besides the protocol file's own keys.
DFPT_OVERRIDE_NAMESPACES = ("scf", "scf_dense", "ph", "q2r", "matdyn")


def kpoints_mesh(mesh: list[int]) -> orm.KpointsData:
    """A ``KpointsData`` holding an unshifted Monkhorst-Pack mesh."""
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([int(n) for n in mesh])
    return kpoints


def calcjob_options(
    num_mpiprocs: int = 1, max_wallclock_seconds: int = 12 * 3600
) -> dict[str, Any]:
    """``metadata.options`` for one machine; mpirun only when more than one process is asked for."""
    if num_mpiprocs < 1:
        raise ValueError(f"num_mpiprocs must be at least 1, got {num_mpiprocs}")
    return {
        "resources": {"num_machines": 1, "num_mpiprocs_per_machine": int(num_mpiprocs)},
        "max_wallclock_seconds": int(max_wallclock_seconds),
        "withmpi": num_mpiprocs > 1,
    }


#: Schedulers that run every job on one machine, so that jobs launched together share its cores.
SHARED_MACHINE_SCHEDULERS = ("core.direct",)


def share_cores(
    options: dict[str, Any], computer: orm.Computer, n_concurrent: int
) -> dict[str, Any]:
    """``metadata.options`` for each of ``n_concurrent`` jobs launched together.

    On a computer whose scheduler runs every job on one machine (``core.direct``), the MPI
    processes asked for are divided between the jobs (at least one each; one process runs without
    mpirun): two pw.x of two MPI processes each on two cores busy-wait for each other and took
    139 s, against 12 s for both one after the other (docs/performance.md). A queueing scheduler
    gives every job its own resources, so the options stay as they are.
    """
    nproc = mpiprocs_per_machine(options)
    if computer.scheduler_type not in SHARED_MACHINE_SCHEDULERS or n_concurrent <= 1 or nproc <= 1:
        return dict(options)
    share = max(1, nproc // n_concurrent)
    resources = {**options.get("resources", {}), "num_mpiprocs_per_machine": share}
    return {**options, "resources": resources, "withmpi": share > 1}


def mpiprocs_per_machine(options: dict[str, Any]) -> int:
    """The MPI processes per machine of CalcJob ``metadata.options`` (1 when not set)."""
    return int(options.get("resources", {}).get("num_mpiprocs_per_machine", 1))


def apply_shared_cores(calcjob_inputs, n_concurrent: int) -> int:
    """:func:`share_cores` on a CalcJob namespace (``code``, ``metadata``) in place, for one of
    ``n_concurrent`` jobs launched together; returns its MPI processes."""
    metadata = dict(calcjob_inputs.get("metadata", {}))
    options = share_cores(
        dict(metadata.get("options", {})), calcjob_inputs["code"].computer, n_concurrent
    )
    calcjob_inputs["metadata"] = {**metadata, "options": options}
    return mpiprocs_per_machine(options)


def kpoint_pools(num_mpiprocs: int, n_kpoints: int) -> int:
    """Pools for ``-nk``: the largest divisor of ``num_mpiprocs`` not above ``n_kpoints``.

    ph.x of a 14-atom clathrate on 2 processes: 2 pools take 32 % less CPU time than plane-wave
    parallelisation alone (docs/performance.md).
    """
    if num_mpiprocs < 1 or n_kpoints < 1:
        raise ValueError(
            f"need positive process and k-point counts, got {num_mpiprocs}, {n_kpoints}"
        )
    return max(d for d in range(1, num_mpiprocs + 1) if num_mpiprocs % d == 0 and d <= n_kpoints)


#: Quantum ESPRESSO's command-line parallelisation flags (a CMDLINE with one of them is left alone).
PARALLEL_FLAGS = ("-nk", "-npool", "-npools", "-ni", "-nimage", "-nt", "-ntg", "-nb", "-nd")


def parallelisation(calcjob_inputs) -> str:
    """'N MPI processes[, -nk P]' of a CalcJob's inputs, for reports."""
    nproc = mpiprocs_per_machine(dict(calcjob_inputs.get("metadata", {})).get("options", {}))
    text = f"{nproc} MPI process{'es' if nproc > 1 else ''}"
    settings = calcjob_inputs.get("settings")
    cmdline = settings.get_dict().get("CMDLINE", []) if settings is not None else []
    return f"{text} {' '.join(cmdline)}".strip()


def failure(node: orm.ProcessNode) -> str:
    """One report line on a failed sub-process: what it was, its exit status and message."""
    message = " ".join((node.exit_message or "").split())
    return f"{node.process_label}<{node.pk}> failed ({node.exit_status}{': ' + message if message else ''})"


def clean_called_workdirs(process) -> None:
    """With ``clean_workdir``, empty the remote folders of every CalcJob the process called."""
    if not process.inputs.clean_workdir.value:
        return
    cleaned = []
    for called in process.node.called_descendants:
        if isinstance(called, orm.CalcJobNode):
            try:
                called.outputs.remote_folder._clean()
                cleaned.append(called.pk)
            except (OSError, KeyError, AttributeError):
                pass
    if cleaned:
        process.report(f"cleaned remote folders of calculations: {' '.join(map(str, cleaned))}")


def load_codes(codes: dict[str, orm.AbstractCode | str], needed: set[str]) -> dict[str, Any]:
    """Codes as nodes (labels are loaded); ``ValueError`` naming the missing ones."""
    missing = needed - set(codes)
    if missing:
        raise ValueError(f"codes missing for: {sorted(missing)}")
    return {
        key: orm.load_code(code) if isinstance(code, str) else code for key, code in codes.items()
    }


def check_protocol_overrides(cls, overrides: dict | None, extra_keys: tuple[str, ...] = ()) -> None:
    """``ValueError`` for override keys that are neither keys of ``cls``'s protocol file nor in
    ``extra_keys`` (a typo such as ``kpoint_mesh`` would otherwise be ignored), and for meshes
    (``*_mesh``) that are not three positive integers."""
    data = cls._load_protocol_file()
    known = set(data["default_inputs"]).union(*data["protocols"].values()) | set(extra_keys)
    unknown = sorted(set(overrides or {}) - known - {"description"})
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} override keys {unknown}; known: {', '.join(sorted(known))}"
        )
    for key, value in (overrides or {}).items():
        if key.endswith("_mesh"):
            raise_if(mesh_error(key, value))
