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
