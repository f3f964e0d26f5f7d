"""``SschaWorkChain`` inputs on a finished ``HarmonicPhononWorkChain``.

Used by ``aiida-clathrate launch sscha``, ``benchmarks/sscha_engines.py`` and the tests; the
protocol itself is ``SschaWorkChain.get_builder_from_protocol`` (``protocols/sscha.yaml``).
"""

from __future__ import annotations

from aiida import orm

from ..pseudo_family import SHIPPED_FAMILY_LABEL
from .sscha import SschaWorkChain

#: Link-label prefixes of the harmonic scf's inputs, newest first: ``dfpt.scf`` (the scf inside
#: the harmonic run's DFPT namespace), then ``scf`` (harmonic runs made before that).
HARMONIC_SCF_PREFIXES = ("dfpt__scf", "scf")

#: The localhost codes of ``aiida-clathrate setup``, keyed as ``get_builder_from_protocol`` wants.
LOCALHOST_CODES = {
    "sscha": "clathrate-sscha@localhost",
    "pw": "pw@localhost",
    "mlp": "clathrate-mlp@localhost",
}


def harmonic_scf_settings(harmonic: orm.WorkflowNode) -> tuple[dict, list[int]]:
    """The ``SYSTEM`` namelist and the k-mesh of a harmonic run's scf (its input nodes): the energy
    surface the SSCHA's pw.x must share (``energy_surface``, ``kpoints_mesh`` of
    ``SschaWorkChain.get_builder_from_protocol``)."""
    links = harmonic.base.links.get_incoming()
    labels = set(links.all_link_labels())
    for prefix in HARMONIC_SCF_PREFIXES:
        parameters, kpoints = f"{prefix}__pw__parameters", f"{prefix}__kpoints"
        if parameters in labels and kpoints in labels:
            system = links.get_node_by_label(parameters).get_dict()["SYSTEM"]
            mesh, _ = links.get_node_by_label(kpoints).get_kpoints_mesh()
            return system, [int(n) for n in mesh]
    raise ValueError(
        f"{harmonic.process_label}<{harmonic.pk}> has no scf inputs "
        f"({' or '.join(f'{p}__pw__parameters + {p}__kpoints' for p in HARMONIC_SCF_PREFIXES)})"
    )


def sscha_builder_on_harmonic(
    harmonic: orm.WorkflowNode,
    protocol: str | None = None,
    engine: str = "dft",
    mlp_model: orm.Data | None = None,
    temperature_kelvin: float | None = None,
    relax_cell: bool = False,
    codes: dict[str, orm.AbstractCode | str] | None = None,
    overrides: dict | None = None,
    pseudo_family: str = SHIPPED_FAMILY_LABEL,
    num_mpiprocs: int = 1,
):
    """A ``SschaWorkChain`` builder from the protocol on a finished ``HarmonicPhononWorkChain``:
    its relaxed structure and dynamical matrices, its scf's energy surface and k-mesh; with
    ``relax_cell`` the SSCHA relaxes the cell to the harmonic run's pressure.

    :param codes: default: the localhost codes of ``aiida-clathrate setup`` (``LOCALHOST_CODES``).
    """
    protocol = protocol or SschaWorkChain.get_default_protocol()
    energy_surface, kpoints_mesh = (None, None)
    if engine != "mlp":
        energy_surface, kpoints_mesh = harmonic_scf_settings(harmonic)
    pressure_gpa = harmonic.inputs.pressure_gpa.value
    structure = harmonic.outputs.relaxed_structure
    builder = SschaWorkChain.get_builder_from_protocol(
        LOCALHOST_CODES if codes is None else codes,
        structure,
        harmonic.outputs.dynamical_matrices,
        protocol,
        overrides=overrides,
        engine=engine,
        energy_surface=energy_surface,
        kpoints_mesh=kpoints_mesh,
        pseudo_family=pseudo_family,
        num_mpiprocs=num_mpiprocs,
        mlp_model=mlp_model,
        target_pressure_gpa=pressure_gpa if relax_cell else None,
        temperature_kelvin=temperature_kelvin,
    )
    builder.metadata.label = f"sscha {structure.get_formula()} {pressure_gpa:g} GPa {engine}"
    builder.metadata.description = f"protocol={protocol}, harmonic<{harmonic.pk}>"
    return builder
