"""Small helpers shared by the workchains: k-point meshes and CalcJob options."""

from __future__ import annotations

from typing import Any

from aiida import orm


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
