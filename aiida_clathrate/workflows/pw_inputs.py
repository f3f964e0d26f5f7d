"""pw.x inputs in one place: every ``PwBaseWorkChain``/``PwRelaxWorkChain`` namespace of the plugin.

The cutoffs come from the pseudopotential family (per protocol), smearing and convergence from the
protocol files of the calling work chain, the k-points are an explicit Monkhorst-Pack mesh.
"""

from __future__ import annotations

from typing import Any

from aiida import orm
from aiida_quantumespresso.common.types import ElectronicType
from aiida_quantumespresso.workflows.protocols.utils import recursive_merge
from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain
from aiida_quantumespresso.workflows.pw.relax import PwRelaxWorkChain

from ..pseudo_family import load_family, recommended_cutoffs_ry
from ..units import KBAR_PER_GPA
from .common import calcjob_options, kpoints_mesh

#: The SYSTEM keys that fix the energy surface: every force of one compound must share them.
ENERGY_SURFACE_SYSTEM_KEYS = ("ecutwfc", "ecutrho", "occupations", "smearing", "degauss")


def pw_overrides(
    structure: orm.StructureData,
    protocol: str,
    pseudo_family: str,
    smearing: str,
    degauss_ry: float,
    conv_thr_per_atom: float | None = None,
) -> dict[str, Any]:
    """aiida-quantumespresso overrides for a metal: the family's cutoffs and the given smearing."""
    family = load_family(pseudo_family)
    ecutwfc, ecutrho = recommended_cutoffs_ry(family, structure, protocol)
    overrides: dict[str, Any] = {
        "pseudo_family": family.label,
        "pw": {
            "parameters": {
                "SYSTEM": {
                    "ecutwfc": ecutwfc,
                    "ecutrho": ecutrho,
                    "occupations": "smearing",
                    "smearing": smearing,
                    "degauss": degauss_ry,
                }
            }
        },
    }
    if conv_thr_per_atom is not None:
        overrides["meta_parameters"] = {"conv_thr_per_atom": conv_thr_per_atom}
    return overrides


def pw_base_inputs(
    code: orm.AbstractCode,
    structure: orm.StructureData,
    protocol: str,
    overrides: dict[str, Any],
    mesh: list[int],
    num_mpiprocs: int = 1,
) -> dict[str, Any]:
    """``PwBaseWorkChain`` inputs (a plain dict, no ``pw.structure``, no ``clean_workdir``) on an
    explicit k-mesh."""
    builder = PwBaseWorkChain.get_builder_from_protocol(
        code,
        structure,
        protocol,
        overrides=overrides,
        options=calcjob_options(num_mpiprocs),
        electronic_type=ElectronicType.METAL,
    )
    inputs = builder._inputs(prune=True)
    inputs["pw"].pop("structure", None)
    inputs.pop("clean_workdir", None)
    inputs.pop("kpoints_distance", None)
    inputs["kpoints"] = kpoints_mesh(mesh)
    return inputs


def pw_relax_inputs(
    code: orm.AbstractCode,
    structure: orm.StructureData,
    protocol: str,
    overrides: dict[str, Any],
    mesh: list[int],
    pressure_gpa: float,
    meta_convergence: bool,
    num_mpiprocs: int = 1,
) -> dict[str, Any]:
    """``PwRelaxWorkChain`` inputs (variable cell, symmetry kept) at ``pressure_gpa`` on a k-mesh."""
    builder = PwRelaxWorkChain.get_builder_from_protocol(
        code,
        structure,
        protocol,
        overrides={"base_relax": overrides, "base_init_relax": overrides},
        options=calcjob_options(num_mpiprocs),
        electronic_type=ElectronicType.METAL,
    )
    builder.pop("base_init_relax", None)
    builder.base_relax.pop("kpoints_distance", None)
    builder.base_relax.kpoints = kpoints_mesh(mesh)
    parameters = builder.base_relax.pw.parameters.get_dict()
    parameters["CELL"]["press"] = pressure_gpa * KBAR_PER_GPA
    builder.base_relax.pw.parameters = orm.Dict(parameters)
    builder.meta_convergence = orm.Bool(meta_convergence)
    inputs = builder._inputs(prune=True)
    inputs.pop("structure", None)
    inputs.pop("clean_workdir", None)
    return inputs


def merged(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` with the nested ``extra`` on top (either may be empty)."""
    return recursive_merge(base, extra or {})


def relax_requested(inputs) -> bool:
    """Whether a process's ``relax`` namespace holds a relaxation: it may be absent or left empty
    (an empty builder namespace may be present)."""
    relax = inputs.get("relax", {})
    return "parameters" in relax.get("base_relax", {}).get("pw", {})


def submit_relax(process, structure: orm.StructureData):
    """Submit the ``relax`` namespace of ``process`` (a ``PwRelaxWorkChain``) on ``structure`` at
    the process's ``pressure_gpa`` (set again here, so an edited builder input wins); call link
    label ``relax``. Used by the harmonic and the screening work chains."""
    from aiida.common import AttributeDict

    inputs = AttributeDict(process.exposed_inputs(PwRelaxWorkChain, namespace="relax"))
    inputs.structure = structure
    parameters = inputs.base_relax.pw.parameters.get_dict()
    parameters.setdefault("CELL", {})["press"] = process.inputs.pressure_gpa.value * KBAR_PER_GPA
    inputs.base_relax.pw.parameters = orm.Dict(parameters)
    inputs.metadata.call_link_label = "relax"
    return process.submit(PwRelaxWorkChain, **inputs)
